#!/usr/bin/env python3
"""A FastAPI + PyTorch peer of `mtrec serve`: the same POST /v1/rank, from an `mtrec export` safetensors file alone.

It reads the file itself (8-byte header length, JSON header, f32 data), encodes raw input with the export's
`features` metadata (docs/model_format.md, "The features entry"), rebuilds the network in torch from the weights
and the config in the metadata, and scores on the CPU. The bench in this folder runs it beside `mtrec serve` on the
same weights; check_peer.py holds its scores against `mtrec predict`.

    peer_server.py --model model.safetensors --port 8081 --threads 1 --workers 2 [--compile] [--bf16]

Runs on torch 1.13 (Debian's python3-torch) or 2.x (bench/python_env.sh: the newest from PyPI in bench/.venv).
--compile: torch.compile of the dense network (embeddings, feature encoding and the task graph stay eager), compiled
in each worker at start-up on a few batch sizes (dynamic shapes); if it fails, the message is logged and the worker
serves eager. --bf16: torch.autocast("cpu", dtype=torch.bfloat16) around the dense network (scores then differ from
mtrec's f32 ones by up to about 1e-2); only on a CPU with avx512_bf16 or amx_bf16, otherwise it exits 3 with
'bf16: not supported by this CPU'.

Request: {"context": {column: value, ...}, "items": [{column: value, ...}, ...], "blend": {"click": 1}, "top_k": k}
(context, blend and top_k optional; every input column in the context or in every item). Response:
{"model": "<crc32 of the file>", "items": [{"index": i, "score": s, "tasks": {"click": p, ...}}, ...]}, sorted
by score descending, ties by index. Architectures: shared_bottom, mmoe, omoe (with model.batch_norm and
model.numeric_projection).
"""

import argparse
import json
import math
import os
import sys
import tomllib
import zlib

import numpy as np
import torch
import torch.nn.functional as F

# The export's reader, the hash and the numeric transforms are the PyTorch example's (examples/pytorch).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "examples", "pytorch"))
from mtrec_torch import BATCH_NORM_EPS, NumericTransform, chain_logit, fnv_mix_hash, read_safetensors  # noqa: E402

SUPPORTED_ARCHS = ("shared_bottom", "mmoe", "omoe")


class RequestError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


# --- features ---------------------------------------------------------------------------------------------------

class Feature:
    def __init__(self, spec):
        self.name = spec["name"]
        self.column = spec["column"]
        self.kind = spec["kind"]
        self.block = spec["input"]["block"]
        self.index = spec["input"]["index"]
        self.table = spec["table"]
        if self.kind == "numeric":
            self.transform = NumericTransform(spec)
        else:
            self.hash_buckets = spec.get("hash_buckets")
            self.vocabulary = None
            if self.hash_buckets is None:
                self.vocabulary = {value: i + 1 for i, value in enumerate(spec["vocabulary"])}
            self._hashed = {}
            self.separator = spec.get("separator")
            self.pooling = spec.get("pooling")

    def id_of(self, text):
        if self.vocabulary is not None:
            return self.vocabulary.get(text, 0)
        found = self._hashed.get(text)
        if found is None:
            found = fnv_mix_hash(text, self.hash_buckets)
            if len(self._hashed) < 1_000_000:
                self._hashed[text] = found
        return found

    # Raw JSON values -> model input, as FeaturePipeline::Encode does for the same text in a data file.
    def categorical_text(self, value, where):
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if value is None:
            return ""
        raise RequestError(400, f"{where}: expected a string or an integer, found {type(value).__name__}")

    def multi_ids(self, value, where):
        if value is None:
            return []
        if isinstance(value, str):
            parts = value.split(self.separator)
        elif isinstance(value, list):
            parts = [self.categorical_text(v, f"{where}[{i}]") if v is not None else None
                     for i, v in enumerate(value)]
            if any(p is None for p in parts):
                raise RequestError(400, f"{where}: expected strings or integers")
        else:
            raise RequestError(400, f"{where}: expected an array of strings, a string or null")
        ids = []
        for part in parts:
            part = part.strip(" \t\r")
            if part:
                ids.append(self.id_of(part))
        return ids

    def raw_numbers(self, values, where):
        """float32 raw values, NaN for missing (null)."""
        out = np.empty(len(values), dtype=np.float32)
        for i, v in enumerate(values):
            if v is None:
                out[i] = np.nan
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                out[i] = v
                if not math.isfinite(out[i]):
                    raise RequestError(400, f"{where}: {v} is out of range")
            else:
                raise RequestError(400, f"{where}: expected a number or null, found {type(v).__name__}")
        return out

    def bucket(self, raw, where):
        try:
            return self.transform.bucket(raw, where)
        except ValueError as error:  # log1p of a value <= -1
            raise RequestError(400, str(error)) from None

    def numeric(self, raw, where):
        """[n, 1 or 2]: the transformed value, then the missing flag when there is one."""
        try:
            return self.transform.columns(raw, where)
        except ValueError as error:
            raise RequestError(400, str(error)) from None


class Encoded:
    """One request's model input. A slot given by the context is encoded once (shared by every row)."""

    def __init__(self, rows, singles, multis, numeric_width):
        self.rows = rows
        self.single = [None] * singles  # per slot: ("shared", id) or ("rows", int64 array [rows])
        self.multi = [None] * multis    # per slot: ("shared", ids) or ("rows", ids, offsets)
        self.numeric = np.zeros((rows, numeric_width), dtype=np.float32)
        self.blend_feature = None       # float32 [rows] of serve.blend_feature's raw values


class FeatureEncoder:
    def __init__(self, spec, blend_feature=""):
        self.na_values = set(spec["na_values"])
        self.trim = spec["trim"]
        self.singles = spec["single_slots"]
        self.multis = spec["multi_slots"]
        self.numeric_width = len(spec["numeric_columns"])
        self.features = [Feature(f) for f in spec["features"]]
        self.columns = []
        for f in self.features:
            if f.column not in self.columns:
                self.columns.append(f.column)
        self.column_set = set(self.columns)
        self.blend_column = None
        for f in self.features:
            if f.name == blend_feature:
                self.blend_column = f.column

    def encode(self, context, items):
        if not isinstance(context, dict):
            raise RequestError(400, "context: expected an object")
        n = len(items)
        for key in context:
            if key not in self.column_set:
                raise RequestError(400, f"context: unknown input '{key}'; the model reads {sorted(self.columns)}")
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise RequestError(400, f"items[{i}]: expected an object")
            for key in item:
                if key not in self.column_set:
                    raise RequestError(400, f"items[{i}]: unknown input '{key}'")
                if key in context:
                    raise RequestError(400, f"items[{i}]: '{key}' is also in the context")
        out = Encoded(n, self.singles, self.multis, self.numeric_width)
        for f in self.features:
            shared = f.column in context
            if shared:
                values = [context[f.column]]
                where = f"context.{f.column}"
            else:
                try:
                    values = [item[f.column] for item in items]
                except KeyError:
                    missing = next(i for i, item in enumerate(items) if f.column not in item)
                    raise RequestError(400, f"items[{missing}]: missing input '{f.column}' (null gives a missing value)")
                where = f"items[].{f.column}"
            if f.kind == "categorical":
                ids = [f.id_of(f.categorical_text(v, where)) for v in values]
                out.single[f.index] = ("shared", ids[0]) if shared else ("rows", np.asarray(ids, dtype=np.int64))
            elif f.kind == "multi_categorical":
                lists = [f.multi_ids(v, where) for v in values]
                if shared:
                    out.multi[f.index] = ("shared", lists[0])
                else:
                    offsets = np.zeros(n, dtype=np.int64)
                    np.cumsum([len(ids) for ids in lists[:-1]], out=offsets[1:])
                    flat = [i for ids in lists for i in ids]
                    out.multi[f.index] = ("rows", np.asarray(flat, dtype=np.int64), offsets)
            else:
                raw = f.raw_numbers(values, where)
                if f.block == "single":
                    ids = f.bucket(raw, where)
                    out.single[f.index] = ("shared", int(ids[0])) if shared else ("rows", ids.astype(np.int64))
                else:
                    block = f.numeric(raw, where)
                    out.numeric[:, f.index:f.index + block.shape[1]] = block  # a context row broadcasts
                if f.column == self.blend_column:
                    out.blend_feature = np.broadcast_to(raw, (n,)) if shared else raw
        return out


# --- the network --------------------------------------------------------------------------------------------------

class Mlp:
    """mtrec's Mlp from its weights: <prefix>.<i>.weight ([out, in] or, grouped, [G, out, in]) and .bias, an
    optional <prefix>.<i>.norm (batch norm, inference statistics), ReLU after every hidden layer; dropout is off in
    inference. output=True: the last layer is linear (a tower's output)."""

    def __init__(self, w, prefix, output):
        self.layers = []
        i = 0
        while f"{prefix}.{i}.weight" in w:
            weight = w[f"{prefix}.{i}.weight"]
            bias = w[f"{prefix}.{i}.bias"]
            norm = None
            if f"{prefix}.{i}.norm.weight" in w:
                gamma = w[f"{prefix}.{i}.norm.weight"].reshape(-1)
                beta = w[f"{prefix}.{i}.norm.bias"].reshape(-1)
                mean = w[f"{prefix}.{i}.norm.running_mean"].reshape(-1)
                var = w[f"{prefix}.{i}.norm.running_var"].reshape(-1)
                scale = gamma / torch.sqrt(var + BATCH_NORM_EPS)
                norm = (scale, beta - mean * scale)
            if weight.dim() == 2:
                self.layers.append(("dense", weight.t().contiguous(), bias.reshape(-1), norm))
            else:  # grouped: y[:, g] = x[:, g] @ W[g].T + b[g]
                self.layers.append(("grouped", weight.transpose(1, 2).contiguous(), bias.unsqueeze(1), norm))
            i += 1
        if not self.layers:
            raise ValueError(f"no weights named {prefix}.0.weight")
        self.hidden = len(self.layers) - (1 if output else 0)

    def __call__(self, x):
        n = x.shape[0]
        for j, (kind, weight, bias, norm) in enumerate(self.layers):
            if kind == "dense":
                x = torch.addmm(bias, x, weight)
            else:
                groups, fan_in, fan_out = weight.shape
                x = torch.baddbmm(bias, x.reshape(n, groups, fan_in).transpose(0, 1), weight)
                x = x.transpose(0, 1).reshape(n, groups * fan_out)
            if j < self.hidden:
                if norm is not None:
                    x = torch.addcmul(norm[1], x, norm[0])
                x = torch.relu(x)
        return x


class Network:
    def __init__(self, tensors, config, layout):
        model = config.get("model", {})
        self.arch = model.get("arch", "shared_bottom")
        if self.arch not in SUPPORTED_ARCHS:
            raise ValueError(f"arch '{self.arch}' is not supported by the peer (only {', '.join(SUPPORTED_ARCHS)})")
        self.tasks = [t["name"] for t in config["tasks"]]
        self.layout = layout
        self.tables = {name[len("embeddings."):]: t for name, t in tensors.items() if name.startswith("embeddings.")}
        self.projection = None
        if "numeric_projection.weight" in tensors:
            self.projection = (tensors["numeric_projection.weight"].t().contiguous(),
                               tensors["numeric_projection.bias"].reshape(-1))
        if self.arch == "shared_bottom":
            self.bottom = Mlp(tensors, "bottom", output=False)
            self.towers = [Mlp(tensors, f"towers.{task}", output=True) for task in self.tasks]
        else:
            self.experts_count = int(model.get("experts", 4))
            self.expert_bank = Mlp(tensors, "experts", output=False)
            self.gates = (tensors["gates.weight"].t().contiguous(), tensors["gates.bias"].reshape(-1))
            self.gate_count = self.gates[0].shape[1] // self.experts_count
            self.grouped_towers = Mlp(tensors, "towers", output=True)
        # The task graph: chain tasks after their parents (depth-first in task order), as models/task_graph.cc.
        index = {name: k for k, name in enumerate(self.tasks)}
        self.binary = [t.get("kind", "binary") == "binary" for t in config["tasks"]]
        parent = [index[t["parent"]] if t.get("parent") else -1 for t in config["tasks"]]
        chain = [bool(t.get("parent")) and t.get("mode", "chain") == "chain" for t in config["tasks"]]
        self.chain_order = []
        placed = [False] * len(self.tasks)

        def place(k):
            if placed[k]:
                return
            placed[k] = True
            if parent[k] >= 0:
                place(parent[k])
            if chain[k]:
                self.chain_order.append((k, parent[k]))

        for k in range(len(self.tasks)):
            place(k)

    def input(self, enc):
        """[rows, input width]: single slots, pooled multi slots, the numeric block (or its projection)."""
        n = enc.rows
        parts = []
        for s, slot in enumerate(enc.single):
            table = self.tables[self.layout.single_tables[s]]
            if slot[0] == "shared":
                parts.append(table[slot[1]].expand(n, -1))
            else:
                parts.append(F.embedding(torch.from_numpy(slot[1]), table))
        for m, slot in enumerate(enc.multi):
            table = self.tables[self.layout.multi_tables[m]]
            mode = self.layout.multi_pooling[m]
            if slot[0] == "shared":
                ids = slot[1]
                if ids:
                    pooled = table[torch.tensor(ids)].sum(0)
                    if mode == "mean":
                        pooled = pooled / len(ids)
                else:
                    pooled = torch.zeros(table.shape[1])
                parts.append(pooled.expand(n, -1))
            else:
                parts.append(F.embedding_bag(torch.from_numpy(slot[1]), table, torch.from_numpy(slot[2]), mode=mode))
        numeric = torch.from_numpy(enc.numeric)
        if self.projection is not None:
            numeric = torch.addmm(self.projection[1], numeric, self.projection[0])
        parts.append(numeric)
        return torch.cat(parts, dim=1)

    def body(self, x):
        """[rows, tasks]: a logit per binary task (for a chain task the logit of p(task | parent)), a value per
        regression task."""
        if self.arch == "shared_bottom":
            hidden = self.bottom(x)
            return torch.cat([tower(hidden) for tower in self.towers], dim=1)
        n = x.shape[0]
        experts = self.expert_bank(x).reshape(n, self.experts_count, -1)           # [n, E, w]
        gates = torch.softmax(torch.addmm(self.gates[1], x, self.gates[0]).reshape(n, self.gate_count, -1), dim=2)
        mixed = torch.bmm(gates, experts).reshape(n, -1)                           # [n, G·w]
        return self.grouped_towers(mixed)

    def __call__(self, enc, body=None):
        """[rows, tasks] float64: probabilities for binary tasks (chains unconditional), values for regression.
        body: what runs the dense network on the input (Network.body, or the peer's compiled / bf16 one)."""
        out = (body or self.body)(self.input(enc)).double()
        for k, p in self.chain_order:  # logit of σ(s_k)·σ(logit_parent), bounded, as TaskGraph::Forward
            out[:, k] = chain_logit(out[:, k], out[:, p])
        for k, binary in enumerate(self.binary):
            if binary:
                out[:, k] = torch.sigmoid(out[:, k].float()).double()
        return out


class Layout:
    def __init__(self, spec):
        self.single_tables = [None] * spec["single_slots"]
        self.multi_tables = [None] * spec["multi_slots"]
        self.multi_pooling = [None] * spec["multi_slots"]
        for f in spec["features"]:
            if f["input"]["block"] == "single":
                self.single_tables[f["input"]["index"]] = f["table"]
            elif f["input"]["block"] == "multi":
                self.multi_tables[f["input"]["index"]] = f["table"]
                self.multi_pooling[f["input"]["index"]] = f["pooling"]


# --- scoring ------------------------------------------------------------------------------------------------------

def cpu_has_bf16():
    with open("/proc/cpuinfo") as cpuinfo:
        flags = set()
        for line in cpuinfo:
            if line.startswith("flags"):
                flags.update(line.split(":", 1)[1].split())
    if not flags & {"avx512_bf16", "amx_bf16"}:
        return False
    try:  # oneDNN's own check, torch 2.x
        return torch.backends.mkldnn.is_available() and bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return torch.backends.mkldnn.is_available()


class Peer:
    def __init__(self, path, compile_network=False, bf16=False):
        tensors, metadata = read_safetensors(path)
        with open(path, "rb") as f:
            self.version = f"{zlib.crc32(f.read()):08x}"
        if "features" not in metadata:
            raise ValueError(f"{path}: no 'features' metadata; export it with a newer mtrec")
        self.config = tomllib.loads(metadata["config"])
        spec = json.loads(metadata["features"])
        serve = self.config.get("serve", {})
        self.encoder = FeatureEncoder(spec, serve.get("blend_feature", ""))
        self.network = Network(tensors, self.config, Layout(spec))
        self.tasks = self.network.tasks
        self.blend_mode = serve.get("blend_mode", "sum")
        self.uses_blend_feature = bool(serve.get("blend_feature", ""))
        self.default_blend = self.resolve_blend(serve.get("blend", {}))
        self.bf16 = bf16
        self.body = self.network.body
        self.mode = "eager"
        if compile_network:
            self.compile()
        if bf16:
            self.mode += "+bf16"

    def input_width(self):
        first = (self.network.bottom if self.network.arch == "shared_bottom" else self.network.expert_bank).layers[0]
        kind, weight = first[0], first[1]
        return weight.shape[0] if kind == "dense" else weight.shape[0] * weight.shape[1]

    def run_body(self, x):
        if self.bf16:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                return self.body(x)
        return self.body(x)

    def compile(self):
        """torch.compile of Network.body, compiled here on batches of 100, 37 and 1 rows (the first static, the
        second dynamic, 1 specialised) so that requests do not wait for it; eager if it fails."""
        if not hasattr(torch, "compile"):
            print(f"peer: torch {torch.__version__} has no torch.compile; serving eager", file=sys.stderr, flush=True)
            return
        self.body = torch.compile(self.network.body)
        try:
            with torch.inference_mode():
                for rows in (100, 37, 1):
                    self.run_body(torch.zeros(rows, self.input_width()))
            self.mode = "compile"
        except Exception as error:  # no C++ compiler, an unsupported op, ...
            lines = str(error).strip().splitlines()
            print(f"peer: torch.compile failed ({type(error).__name__}: {lines[0] if lines else ''}); serving eager",
                  file=sys.stderr, flush=True)
            self.body = self.network.body

    def resolve_blend(self, weights):
        """[(task index, weight)] as eval/blend.cc's ResolveBlend: empty = every binary task with weight 1."""
        if not weights:
            return [(k, 1.0) for k, binary in enumerate(self.network.binary) if binary]
        terms = []
        for name, weight in weights.items():
            if name not in self.tasks:
                raise RequestError(400, f"blend: no task '{name}'")
            if not isinstance(weight, (int, float)) or isinstance(weight, bool) or not math.isfinite(weight):
                raise RequestError(400, f"blend.{name}: expected a finite number")
            if self.blend_mode == "product" and weight < 0:
                raise RequestError(400, f"blend.{name}: a product blend needs weights >= 0")
            terms.append((self.tasks.index(name), float(weight)))
        return terms

    def score_rows(self, context, items):
        """[rows, tasks] float64 and the encoded request."""
        enc = self.encoder.encode(context, items)
        if enc.rows == 0:
            return np.zeros((0, len(self.tasks))), enc
        with torch.inference_mode():
            return self.network(enc, self.run_body).numpy(), enc

    def blend(self, scores, terms, feature):
        if self.blend_mode == "product":
            total = np.ones(scores.shape[0])
            for k, w in terms:
                if w != 0:
                    total *= np.power(np.maximum(scores[:, k], 0.0), w)
        else:
            total = np.zeros(scores.shape[0])
            for k, w in terms:
                total += w * scores[:, k]
        if self.uses_blend_feature:
            total = total * feature.astype(np.float64)
        return total.astype(np.float32)

    def rank(self, body):
        if not isinstance(body, dict):
            raise RequestError(400, "request body: expected an object")
        for key in body:
            if key not in ("context", "items", "blend", "top_k"):
                raise RequestError(400, f"unknown key '{key}'")
        items = body.get("items")
        if not isinstance(items, list):
            raise RequestError(400, "items: expected an array of objects")
        terms = self.default_blend
        if "blend" in body:
            if not isinstance(body["blend"], dict) or not body["blend"]:
                raise RequestError(400, "blend: expected an object of task weights")
            terms = self.resolve_blend(body["blend"])
        top_k = body.get("top_k", 0)
        if not isinstance(top_k, int) or top_k < 0:
            raise RequestError(400, "top_k: expected an integer >= 0")
        scores, enc = self.score_rows(body.get("context", {}), items)
        blended = self.blend(scores, terms, enc.blend_feature)
        order = np.lexsort((np.arange(len(blended)), -blended.astype(np.float64)))  # score desc, index asc
        if top_k:
            order = order[:top_k]
        tasks = self.tasks
        scores32 = scores.astype(np.float32).tolist()
        blended_list = blended.tolist()
        return {
            "model": self.version,
            "items": [{"index": int(i), "score": blended_list[i], "tasks": dict(zip(tasks, scores32[i]))}
                      for i in order.tolist()],
        }


# --- the server ---------------------------------------------------------------------------------------------------

def create_app():
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse, Response

    torch.set_num_threads(int(os.environ.get("MTREC_PEER_THREADS", "1")))
    peer = Peer(os.environ["MTREC_PEER_MODEL"], compile_network=os.environ.get("MTREC_PEER_COMPILE") == "1",
                bf16=os.environ.get("MTREC_PEER_BF16") == "1")
    print(f"peer: worker {os.getpid()} ready, torch {torch.__version__}, {torch.get_num_threads()} thread(s), "
          f"{peer.mode}", file=sys.stderr, flush=True)
    app = FastAPI(title="mtrec peer")

    @app.get("/healthz")
    def healthz():
        return {"status": "ok", "model": peer.version, "torch": torch.__version__, "mode": peer.mode}

    @app.post("/v1/rank")
    async def rank(request: Request):
        try:
            body = json.loads(await request.body())
        except (ValueError, UnicodeDecodeError) as error:
            return JSONResponse({"error": f"malformed JSON: {error}"}, status_code=400)
        try:
            answer = peer.rank(body)
        except RequestError as error:
            return JSONResponse({"error": error.message}, status_code=error.status)
        return Response(json.dumps(answer, separators=(",", ":")), media_type="application/json")

    return app


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="safetensors file written by `mtrec export`")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--threads", type=int, default=1, help="torch.set_num_threads in each worker")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--compile", action="store_true", help="torch.compile the dense network in each worker")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast around the dense network")
    args = parser.parse_args()
    if args.bf16 and not cpu_has_bf16():
        print("bf16: not supported by this CPU (no avx512_bf16 or amx_bf16, or no oneDNN bf16 in this torch)")
        sys.exit(3)
    # The BLAS torch calls (OpenBLAS on Debian) starts its own threads, one per core, unless told otherwise before
    # it loads; torch.set_num_threads does not reach it. Workers are fresh processes and read the environment; this
    # process has loaded torch already, so it starts again with the environment set.
    threads = str(args.threads)
    blas_variables = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
    if any(os.environ.get(v) != threads for v in blas_variables):
        for variable in blas_variables:
            os.environ[variable] = threads
        os.execv(sys.executable, [sys.executable] + sys.argv)
    os.environ["MTREC_PEER_MODEL"] = os.path.abspath(args.model)
    os.environ["MTREC_PEER_THREADS"] = str(args.threads)
    os.environ["MTREC_PEER_COMPILE"] = "1" if args.compile else "0"
    os.environ["MTREC_PEER_BF16"] = "1" if args.bf16 else "0"
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")  # compile in the worker, no pool of processes
    print(f"peer: torch {torch.__version__} ({os.path.dirname(torch.__file__)}), {args.workers} worker(s) x "
          f"{args.threads} thread(s){', compile' if args.compile else ''}{', bf16' if args.bf16 else ''}",
          file=sys.stderr, flush=True)
    Peer(args.model)  # fail here, with the message, rather than in every worker
    import uvicorn
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    uvicorn.run("peer_server:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
