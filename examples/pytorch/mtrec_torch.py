"""An mtrec model in PyTorch, from `mtrec export --format safetensors` alone.

    import mtrec_torch
    model = mtrec_torch.load("model.safetensors")        # a torch.nn.Module; its parameters are the export's
    columns = mtrec_torch.read_csv("test.csv")             # {column: [text, ...]}
    inputs = model.encode(columns)                         # ids, pooled-slot ids, the numeric block, treatments
    predictions = model.predict(inputs)                    # {column: float64 tensor}, as `mtrec predict` writes
    outputs = model(inputs)                                # [rows, output columns] float32, differentiable

The file's `features` metadata (docs/model_format.md, "The features entry") turns raw columns into the model's
input exactly as mtrec's feature pipeline does; the weights and the resolved config rebuild the network of every
`model.arch` (single_task, shared_bottom, omoe, mmoe, ple, cross_stitch, esmm, aitm, adatt, stem, pepnet, home; batch norm,
numeric projection, dropout off as in inference); the task graph (chains, pinball ladders) and the task heads (sigmoid,
exp, ziln, treatment arms) turn outputs into predictions as models/task_graph.cc and models/task_outputs.cc do.
Nothing here needs mtrec: only torch and numpy.

Forward runs in float32 like mtrec's; the task graph and the heads in float64, as mtrec computes them. The
parameters are torch parameters named after the export's tensors ('.' written '/': torch refuses '.'), so a
model fine-tunes with any torch optimizer (fine_tune.py) and `mtrec_state_dict()` gives the weights back under
their mtrec names and layouts.
"""

import csv
import json
import math
import struct
import tomllib

import numpy as np
import torch
import torch.nn.functional as F

BATCH_NORM_EPS = 1e-5  # nn/batch_norm.h's default, which every mtrec model uses
MAX_LOGIT = 80.0       # a chain task's logit is clamped to ±this (models/task_graph.cc, kMaxLogit)
ZILN_MIN_SIGMA = 1e-2  # models/ziln.h, kZilnMinSigma
ARCHS = ("single_task", "shared_bottom", "omoe", "mmoe", "ple", "cross_stitch", "esmm", "aitm", "adatt", "stem",
         "pepnet", "home")
COUNT_LOSSES = ("poisson", "tweedie", "negbin")  # their output is log mu: the prediction is e^output


# --- the file ---------------------------------------------------------------------------------------------------

def read_safetensors(path):
    """{name: float32 tensor}, {metadata key: string}. Refuses what mtrec's reader refuses that matters here: a
    header beyond the file, a dtype other than F32, data out of range."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    (header_len,) = struct.unpack("<Q", data[:8])
    if header_len > len(data) - 8:
        raise ValueError(f"{path}: header length {header_len} beyond the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + header_len])
    metadata = header.pop("__metadata__", {})
    base = 8 + header_len
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] != "F32":
            raise ValueError(f"{path}: tensor {name} has dtype {entry['dtype']}; expected F32")
        begin, end = entry["data_offsets"]
        count = math.prod(entry["shape"])
        if end - begin != 4 * count or base + end > len(data):
            raise ValueError(f"{path}: tensor {name}: offsets {begin}..{end} do not hold shape {entry['shape']}")
        array = np.frombuffer(data, dtype="<f4", count=count, offset=base + begin)
        tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    """Writes {name: tensor} and the metadata as mtrec's export does: the header's __metadata__ first, then the
    tensors in the given order as little-endian f32, the data starting at a multiple of 8 bytes."""
    header = {"__metadata__": metadata}
    offset = 0
    arrays = []
    for name, tensor in tensors.items():
        array = np.ascontiguousarray(tensor.detach().cpu().numpy(), dtype="<f4")
        header[name] = {"dtype": "F32", "shape": list(array.shape), "data_offsets": [offset, offset + array.nbytes]}
        offset += array.nbytes
        arrays.append(array)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for array in arrays:
            f.write(array.tobytes())


def read_csv(path, delimiter=","):
    """{column: [field text, ...]} of a CSV file with a header row, every field as written."""
    if len(delimiter) != 1:
        raise ValueError(f"{path}: delimiter {delimiter!r}: this reader takes a one-character delimiter")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f, delimiter=delimiter)
        try:
            names = next(reader)
        except StopIteration:
            raise ValueError(f"{path}: empty file; expected a header row") from None
        columns = {name: [] for name in names}
        for line, row in enumerate(reader, start=2):
            if not row:
                continue  # a blank line, as mtrec skips it
            if len(row) != len(names):
                raise ValueError(f"{path}:{line}: {len(row)} fields; the header has {len(names)}")
            for name, text in zip(names, row):
                columns[name].append(text)
    return columns


# --- features ---------------------------------------------------------------------------------------------------

def fnv_mix_hash(value, buckets):
    """The id of a value of a hash_buckets feature: FNV-1a 64 of its UTF-8 bytes, SplitMix64's finaliser, modulo
    the bucket count."""
    mask = (1 << 64) - 1
    h = 0xCBF29CE484222325
    for byte in value.encode("utf-8"):
        h = ((h ^ byte) * 0x100000001B3) & mask
    h = (h + 0x9E3779B97F4A7C15) & mask
    h = ((h ^ (h >> 30)) * 0xBF58476D1CE4E5B9) & mask
    h = ((h ^ (h >> 27)) * 0x94D049BB133111EB) & mask
    h ^= h >> 31
    return h % buckets


def field_text(value):
    """A value given in memory as the text a CSV file would hold, as mtrec reads in-memory columns: a string as it
    is, a whole number without a decimal point, another number in its shortest exact form, NaN or None empty."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bool, np.bool_)):
        return str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    number = float(value)
    if math.isnan(number):
        return ""
    if abs(number) < 2.0**53 and number == math.floor(number):
        return str(int(number))
    return repr(number)


class NumericTransform:
    """A numeric feature's fitted transform: fill, clip, log1p, then buckets or standardisation."""

    def __init__(self, spec):
        self.fill = float(spec["fill"])
        self.clip = spec["clip"]
        self.log1p = spec["log1p"]
        self.standardize = spec["standardize"]
        self.mean = float(spec["mean"])
        self.std = float(spec["std"])
        self.missing_flag = spec["missing_flag"]
        self.bounds = np.asarray(spec["bounds"], dtype=np.float32)

    def prepare(self, raw, where):
        """raw: float32 values, NaN for missing -> (float64 values after fill, clip and log1p; missing mask)."""
        missing = np.isnan(raw)
        x = np.where(missing, self.fill, raw.astype(np.float64))
        if self.clip is not None:
            x = np.clip(x, self.clip[0], self.clip[1])
        if self.log1p:
            if np.any(x <= -1.0):
                row = int(np.argmax(x <= -1.0))
                raise ValueError(f"{where}, row {row} (counting from 0): log1p of a value <= -1 is undefined")
            x = np.log1p(x)
        return x, missing

    def bucket(self, raw, where):
        """int64 ids: how many bounds are <= the value; len(bounds) + 1 for a missing value."""
        x, missing = self.prepare(raw, where)
        ids = np.searchsorted(self.bounds, x.astype(np.float32), side="right")
        return np.where(missing, len(self.bounds) + 1, ids).astype(np.int64)

    def columns(self, raw, where):
        """float32 [rows, 1 or 2]: the transformed value, then the missing flag when the feature has one."""
        x, missing = self.prepare(raw, where)
        if self.standardize:
            x = (x - self.mean) / self.std
        out = [x.astype(np.float32)]
        if self.missing_flag:
            out.append(missing.astype(np.float32))
        return np.stack(out, axis=1)


class Inputs:
    """A batch of model input: per single slot int64 ids [rows]; per multi slot (flat int64 ids, int64 offsets
    [rows]); the numeric block float32 [rows, width]; per treatment column its float32 values (NaN missing)."""

    def __init__(self, rows, single, multi, numeric, treatments):
        self.rows = rows
        self.single = single
        self.multi = multi
        self.numeric = numeric
        self.treatments = treatments

    def slice(self, begin, end):
        """Rows [begin, end), for mini-batches."""
        multi = []
        for ids, offsets in self.multi:
            stop = offsets[end] if end < self.rows else len(ids)
            multi.append((ids[offsets[begin]:stop], offsets[begin:end] - offsets[begin]))
        return Inputs(end - begin, [ids[begin:end] for ids in self.single], multi, self.numeric[begin:end],
                      {name: values[begin:end] for name, values in self.treatments.items()})

    def take(self, index):
        """The rows `index` (int64), in that order: a shuffled epoch without encoding the data again."""
        index = torch.as_tensor(index, dtype=torch.int64)
        multi = []
        for ids, offsets in self.multi:
            ends = torch.cat([offsets[1:], torch.tensor([len(ids)], dtype=offsets.dtype)])
            starts, lengths = offsets[index], ends[index] - offsets[index]
            new_offsets = torch.cumsum(lengths, 0) - lengths
            # Position j of the new ids: its row's old start plus its place within the row.
            within = torch.arange(int(lengths.sum())) - new_offsets.repeat_interleave(lengths)
            multi.append((ids[starts.repeat_interleave(lengths) + within], new_offsets))
        return Inputs(len(index), [ids[index] for ids in self.single], multi, self.numeric[index],
                      {name: values[index] for name, values in self.treatments.items()})


class FeatureEncoder:
    """Raw columns -> Inputs, as FeaturePipeline::Encode reads the same text in a data file."""

    def __init__(self, spec, treatment_columns=()):
        if spec.get("version") != 1:
            raise ValueError(f"features entry version {spec.get('version')}; this reader knows version 1")
        self.na_values = set(spec["na_values"])
        self.trim = spec["trim"]
        self.single_slots = spec["single_slots"]
        self.multi_slots = spec["multi_slots"]
        self.numeric_width = len(spec["numeric_columns"])
        self.features = spec["features"]
        self.treatment_columns = list(treatment_columns)
        self.vocabularies = {}
        self.transforms = {}
        for f in self.features:
            if f["kind"] == "numeric":
                self.transforms[f["name"]] = NumericTransform(f)
            elif "vocabulary" in f:
                self.vocabularies[f["name"]] = {value: i + 1 for i, value in enumerate(f["vocabulary"])}

    def columns(self):
        """The raw columns the model reads, in config order."""
        out = []
        for name in [f["column"] for f in self.features] + self.treatment_columns:
            if name not in out:
                out.append(name)
        return out

    def _texts(self, data, column):
        if column not in data:
            raise ValueError(f"no column '{column}'; the model reads {self.columns()}")
        texts = [field_text(v) for v in data[column]]
        if self.trim:
            texts = [t.strip(" \t") for t in texts]
        return texts

    def _numbers(self, texts, where):
        out = np.empty(len(texts), dtype=np.float32)
        for i, text in enumerate(texts):
            if text in self.na_values:
                out[i] = np.nan
                continue
            try:
                out[i] = float(text)
            except ValueError:
                raise ValueError(f"{where}, row {i} (counting from 0): '{text}' is not a number") from None
            if not math.isfinite(out[i]):
                raise ValueError(f"{where}, row {i} (counting from 0): '{text}' is not a finite float32")
        return out

    def _id(self, f, text):
        vocabulary = self.vocabularies.get(f["name"])
        if vocabulary is not None:
            return vocabulary.get(text, 0)
        return fnv_mix_hash(text, f["hash_buckets"])

    def encode(self, data):
        """data: {column: sequence of field texts (or values, written with str)}, equal lengths."""
        lengths = {len(data[c]) for c in self.columns() if c in data}
        if not lengths and self.columns():
            raise ValueError(f"none of the columns the model reads ({self.columns()}) is in the data")
        if len(lengths) > 1:
            raise ValueError(f"columns of different lengths: {sorted(lengths)}")
        rows = lengths.pop() if lengths else 0
        single = [None] * self.single_slots
        multi = [None] * self.multi_slots
        numeric = np.zeros((rows, self.numeric_width), dtype=np.float32)
        for f in self.features:
            texts = self._texts(data, f["column"])
            where = f"column '{f['column']}' (feature '{f['name']}')"
            slot = f["input"]["index"]
            if f["kind"] == "categorical":
                single[slot] = torch.tensor([self._id(f, t) for t in texts], dtype=torch.int64)
            elif f["kind"] == "multi_categorical":
                ids, offsets = [], []
                for text in texts:
                    offsets.append(len(ids))
                    if text in self.na_values:
                        continue
                    for part in text.split(f["separator"]):
                        part = part.strip(" \t\r")
                        if part:
                            ids.append(self._id(f, part))
                multi[slot] = (torch.tensor(ids, dtype=torch.int64), torch.tensor(offsets, dtype=torch.int64))
            else:
                transform = self.transforms[f["name"]]
                raw = self._numbers(texts, where)
                if f["input"]["block"] == "single":
                    single[slot] = torch.from_numpy(transform.bucket(raw, where))
                else:
                    block = transform.columns(raw, where)
                    numeric[:, slot:slot + block.shape[1]] = block
        treatments = {}
        for column in self.treatment_columns:
            if column in data:
                treatments[column] = self._numbers(self._texts(data, column), f"treatment column '{column}'")
            else:  # as mtrec predict: rows without a treatment are scored as untreated
                treatments[column] = np.full(rows, np.nan, dtype=np.float32)
        return Inputs(rows, single, multi, torch.from_numpy(numeric), treatments)


# --- the task heads -----------------------------------------------------------------------------------------------

class Head:
    """One task's output columns (models/task_outputs.cc): 1, or 3 for ziln (s, mu, r), once per treatment arm;
    then, for a chain task with counterfactual = "dr", its imputation tower's (trained, never predicted)."""

    def __init__(self, task, first):
        self.name = task["name"]
        self.kind = task.get("kind", "binary")
        self.loss = task.get("loss") or ("logloss" if self.kind == "binary" else "mse")
        self.ziln = self.loss == "ziln"
        self.treatment = task.get("treatment", "")
        self.arm_width = 3 if self.ziln else 1
        self.arms = 2 if self.treatment else 1
        self.first = first
        self.imputation = task.get("counterfactual", "none") == "dr"
        self.single = not self.ziln and not self.treatment  # its own column is the task's (it may have a parent)
        self.width = self.arm_width * self.arms + (1 if self.imputation else 0)
        self.quantiles = task.get("quantiles", [0.1, 0.5, 0.9]) if self.ziln else []

    def column_names(self):
        """The head's output columns as the architectures name them (HeadsConfig)."""
        if self.single:
            return [self.name] + ([self.name + ".imputation"] if self.imputation else [])
        names = []
        for arm in (["control", "treated"] if self.treatment else [None]):
            for part in (["purchase", "mu", "sigma"] if self.ziln else [None]):
                names.append(".".join(n for n in (self.name, arm, part) if n))
        return names

    def arm_value(self, arm):
        """arm: float64 [rows, arm_width] -> the prediction: a probability, e^output, a ziln mean, the value."""
        if self.ziln:
            p, mu, sigma = ziln_parameters(arm)
            return p * torch.exp(mu + 0.5 * sigma * sigma)
        if self.kind == "binary":
            return torch.sigmoid(arm[:, 0].float()).double()  # mtrec's Sigmoid is float
        if self.loss in COUNT_LOSSES:
            return torch.exp(arm[:, 0].float()).double()
        return arm[:, 0]


def ziln_parameters(arm):
    s, mu, r = arm[:, 0], arm[:, 1], arm[:, 2]
    return torch.sigmoid(s), mu, F.softplus(r) + ZILN_MIN_SIGMA


def ziln_quantile(arm, q):
    """0 where q <= 1 - p, else exp(mu + sigma · Φ⁻¹((q − (1 − p)) / p)), as Ziln::Quantile."""
    p, mu, sigma = ziln_parameters(arm)
    level = torch.clamp((q - (1.0 - p)) / p, max=1.0 - 1e-12)
    positive = (q > 1.0 - p) & (p > 0)
    value = torch.exp(mu + sigma * torch.special.ndtri(torch.where(positive, level, torch.full_like(level, 0.5))))
    return torch.where(positive, value, torch.zeros_like(value))


def ziln_quantile_slope(arm, q):
    """|d quantile / d p|: how far the q-quantile moves per unit of p, the probability of a positive value. Near
    q = 1 − p the level (q − (1 − p)) / p is near 0, where Φ⁻¹ is steep, and the quantile is ill-conditioned."""
    p, mu, sigma = ziln_parameters(arm)
    positive = (q > 1.0 - p) & (p > 0)
    level = torch.clamp((q - (1.0 - p)) / p, max=1.0 - 1e-12)
    z = torch.special.ndtri(torch.where(positive, level, torch.full_like(level, 0.5)))
    value = torch.exp(mu + sigma * z)
    density = torch.exp(-0.5 * z * z) / (2.0 * torch.pi) ** 0.5
    slope = value * sigma * (1.0 - q) / (p * p) / density
    return torch.where(positive, slope, torch.zeros_like(slope))


def quantile_suffix(q):
    """'q10' for 0.1, 'q2_5' for 0.025, as mtrec names a ziln task's quantile columns."""
    percent = f"{q * 100:g}"
    return "q" + percent.replace(".", "_")


# --- the network --------------------------------------------------------------------------------------------------

def chain_logit(conditional, parent):
    """float64 logits -> the logit of σ(conditional)·σ(parent), bounded and rounded to float32 as TaskGraph::Forward
    stores it: log p − log(1 − p) with log p = log σ(s) + log σ(parent), 1 − p taken stably."""
    log_p = F.logsigmoid(conditional) + F.logsigmoid(parent)
    a = torch.clamp(log_p, max=-1e-300)
    log1mexp = torch.where(a > -math.log(2), torch.log(-torch.expm1(a)), torch.log1p(-torch.exp(a)))
    return torch.clamp(log_p - log1mexp, -MAX_LOGIT, MAX_LOGIT).float().double()


def escape(name):
    """An export name as a torch parameter name, which may not hold '.': '.' as '/', reversibly."""
    return name.replace("%", "%25").replace("/", "%2F").replace(".", "/")


def unescape(name):
    return name.replace("/", ".").replace("%2F", "/").replace("%25", "%")


class MtrecModel(torch.nn.Module):
    """An exported mtrec model as a torch module. forward(inputs) -> float32 [rows, output columns]: per output
    column a logit (binary), log mu (count losses), a value, or a ziln task's s, mu, r; a chain task's column the
    logit of its unconditional probability and a pinball ladder's rungs stacked, as mtrec's model outputs."""

    def __init__(self, tensors, metadata):
        super().__init__()
        self.metadata = dict(metadata)
        if "features" not in metadata or "config" not in metadata:
            raise ValueError("no 'features' or 'config' metadata: export the model with a newer mtrec")
        self.config = tomllib.loads(metadata["config"])
        spec = json.loads(metadata["features"])
        model = self.config.get("model", {})
        self.arch = model.get("arch", "shared_bottom")
        if self.arch not in ARCHS:
            raise ValueError(f"model.arch '{self.arch}' is not one this module knows ({', '.join(ARCHS)})")
        self.params = torch.nn.ParameterDict({escape(name): torch.nn.Parameter(t) for name, t in tensors.items()})
        tasks = self.config["tasks"]
        self.heads = []
        first = 0
        for task in tasks:
            self.heads.append(Head(task, first))
            first += self.heads[-1].width
        self.output_columns = [name for head in self.heads for name in head.column_names()]
        self.encoder = FeatureEncoder(spec, sorted({h.treatment for h in self.heads if h.treatment}))
        self._layout(spec)
        self._graph(tasks)
        self.gate_scale = float(model.get("gate_scale", 2.0))
        self.experts = int(model.get("experts", 0))
        self.task_experts = int(model.get("task_experts", 0))
        self.levels = len(model.get("expert", []))

    def w(self, name):
        return self.params[escape(name)]

    def has(self, name):
        return escape(name) in self.params

    def mtrec_state_dict(self):
        """{export name: tensor}: the parameters under their mtrec names, in the export's layouts and order."""
        return {unescape(name): p.detach() for name, p in self.params.items()}

    def save(self, path):
        """Writes the (fine-tuned) weights as a safetensors file with the metadata they were loaded with: load()
        reads it back."""
        write_safetensors(path, self.mtrec_state_dict(), self.metadata)

    # The input layer's layout: per single slot its table and per multi slot its table and pooling, the embedding
    # sets (one per output column for single_task, which has its own tables per task; stem's shared set, then one
    # per output column).
    def _layout(self, spec):
        self.single_tables = [None] * spec["single_slots"]
        self.multi_tables = [None] * spec["multi_slots"]
        self.multi_pooling = [None] * spec["multi_slots"]
        for f in spec["features"]:
            slot = f["input"]["index"]
            if f["input"]["block"] == "single":
                self.single_tables[slot] = f["table"]
            elif f["input"]["block"] == "multi":
                self.multi_tables[slot] = f["table"]
                self.multi_pooling[slot] = f["pooling"]
        own = [f"embeddings.{c}" for c in self.output_columns]
        self.sets = own if self.arch == "single_task" else ["embeddings"] + own if self.arch == "stem" else ["embeddings"]
        # Each feature's columns in one set of x (models/input_layer.cc, FeatureColumns): its slot's embedding, or
        # without one its numeric columns ("<name>", "<name>.missing"), which a numeric projection absorbs.
        widths = [self.w(f"{self.sets[0]}.{t}").shape[1] for t in self.single_tables + self.multi_tables]
        starts = [sum(widths[:i]) for i in range(len(widths))]
        numeric_at = sum(widths)
        self.feature_columns = {}
        for f in spec["features"]:
            block, index = f["input"]["block"], f["input"]["index"]
            if block in ("single", "multi"):
                slot = index if block == "single" else len(self.single_tables) + index
                self.feature_columns.setdefault(f["name"], []).extend(range(starts[slot], starts[slot] + widths[slot]))
            elif not self.has("numeric_projection.weight"):
                for c, name in enumerate(spec["numeric_columns"]):
                    if name in (f["name"], f["name"] + ".missing"):
                        self.feature_columns.setdefault(f["name"], []).append(numeric_at + c)

    def _graph(self, tasks):
        """The task graph over output columns (models/task_graph.cc): parents, chains depth-first, ladders."""
        columns = len(self.output_columns)
        index = {}
        for head in self.heads:
            if head.single:
                index[head.name] = head.first
        self.parent = [-1] * columns
        chain = [False] * columns
        for head, task in zip(self.heads, tasks):
            if task.get("parent") and head.single:
                self.parent[head.first] = index[task["parent"]]
                chain[head.first] = task.get("mode", "chain") == "chain"
        self.order, self.chain_order = [], []
        placed = [False] * columns

        def place(k):
            if placed[k]:
                return
            placed[k] = True
            if self.parent[k] >= 0:
                place(self.parent[k])
            self.order.append(k)
            if chain[k]:
                self.chain_order.append(k)

        for k in range(columns):
            place(k)
        ladders = {}
        for head, task in zip(self.heads, tasks):
            if head.loss == "pinball":
                ladders.setdefault(task.get("column") or task["name"], []).append((task.get("quantile", 0.5),
                                                                                   head.first))
        self.rungs = []  # (column, the rung below)
        for rungs in ladders.values():
            rungs.sort()
            self.rungs += [(k, below) for (_, below), (_, k) in zip(rungs, rungs[1:])]

    # --- layers ---

    def linear(self, name, x):
        """Dense (weight [out, in]) or grouped (weight [G, out, in], x [rows, G·in] -> [rows, G·out])."""
        weight, bias = self.w(f"{name}.weight"), self.w(f"{name}.bias")
        if weight.dim() == 2:
            return F.linear(x, weight, bias.reshape(-1))
        groups, fan_out, fan_in = weight.shape
        y = torch.einsum("ngi,goi->ngo", x.reshape(x.shape[0], groups, fan_in), weight) + bias
        return y.reshape(x.shape[0], groups * fan_out)

    def mlp(self, prefix, x, output, swish=False):
        """models/mlp.cc in inference: Dense -> [BatchNorm] -> ReLU (Swish, x·σ(x), for HoME's experts) ->
        [CrossStitch] per hidden layer, then a linear output layer when output; dropout is the identity."""
        layers = 0
        while self.has(f"{prefix}.{layers}.weight"):
            layers += 1
        if layers == 0:
            raise ValueError(f"no weights named {prefix}.0.weight")
        for i in range(layers):
            x = self.linear(f"{prefix}.{i}", x)
            if output and i == layers - 1:
                break
            if self.has(f"{prefix}.{i}.norm.weight"):
                norm = f"{prefix}.{i}.norm"
                scale = self.w(f"{norm}.weight").reshape(-1) / torch.sqrt(
                    self.w(f"{norm}.running_var").reshape(-1) + BATCH_NORM_EPS)
                x = (x - self.w(f"{norm}.running_mean").reshape(-1)) * scale + self.w(f"{norm}.bias").reshape(-1)
            x = x * torch.sigmoid(x) if swish else torch.relu(x)
            if self.has(f"{prefix}.{i}.stitch.alpha"):  # dst_k = Σ_j α_kj src_j
                alpha = self.w(f"{prefix}.{i}.stitch.alpha")
                k = alpha.shape[0]
                x = torch.einsum("kj,njd->nkd", alpha, x.reshape(x.shape[0], k, -1)).reshape(x.shape[0], -1)
        return x

    def input(self, inputs):
        """[rows, sets · set width]: per set of tables, the single slots' rows, the pooled multi slots, the
        numeric block (through the set's numeric projection when the model has one)."""
        parts = []
        for embeddings in self.sets:
            for slot, ids in enumerate(inputs.single):
                parts.append(F.embedding(ids, self.w(f"{embeddings}.{self.single_tables[slot]}")))
            for slot, (ids, offsets) in enumerate(inputs.multi):
                table = self.w(f"{embeddings}.{self.multi_tables[slot]}")
                parts.append(F.embedding_bag(ids, table, offsets, mode=self.multi_pooling[slot]))
            projection = "numeric_projection" + embeddings[len("embeddings"):]
            if self.has(f"{projection}.weight") and inputs.numeric.shape[1] > 0:
                parts.append(self.linear(projection, inputs.numeric))
            else:
                parts.append(inputs.numeric)
        return torch.cat(parts, dim=1)

    @staticmethod
    def mix(weights, experts):
        """Σ_e weights[:, e] · experts[:, e]: weights [rows, E], experts [rows, E, width] -> [rows, width]."""
        return torch.bmm(weights.unsqueeze(1), experts).squeeze(1)

    def body(self, x):
        """The architecture: input [rows, width] -> [rows, output columns] before the task graph."""
        n = x.shape[0]
        if self.arch == "shared_bottom":
            hidden = self.mlp("bottom", x, output=False)
            return torch.cat([self.mlp(f"towers.{c}", hidden, output=True) for c in self.output_columns], dim=1)
        if self.arch in ("single_task", "esmm"):
            return self.mlp("towers", x, output=True)
        if self.arch == "cross_stitch":
            return self.mlp("towers", self.mlp("networks", x, output=False), output=True)
        if self.arch in ("omoe", "mmoe"):
            experts = self.mlp("experts", x, output=False).reshape(n, self.experts, -1)
            logits = self.linear("gates", x)
            gates = logits.shape[1] // self.experts
            weights = torch.softmax(logits.reshape(n, gates, self.experts), dim=2)
            mixed = torch.bmm(weights, experts).reshape(n, -1)  # gate g's mixture in block g
            return self.mlp("towers", mixed, output=True)
        if self.arch == "ple":
            return self.mlp("towers", self.ple(x), output=True)
        if self.arch == "adatt":
            return self.mlp("towers", self.adatt(x), output=True)
        if self.arch == "stem":
            return self.mlp("towers", self.stem(x), output=True)
        if self.arch == "pepnet":
            return self.pepnet(x)
        if self.arch == "home":
            return self.mlp("towers", self.home(x), output=True)
        return self.aitm(x)

    def ple(self, x):
        """Stacked CGC levels (models/ple.cc): branch k's gate mixes task k's experts and the shared ones; the
        shared branch (all levels but the last) mixes every expert."""
        n = x.shape[0]
        columns = len(self.output_columns)
        te, se = self.task_experts, self.experts
        branches_in = None  # per branch its input at levels > 0
        for level in range(self.levels):
            prefix = f"ple.{level}"
            last = level + 1 == self.levels
            if level == 0:
                bank = self.mlp(f"{prefix}.experts", x, output=False).reshape(n, columns * te + se, -1)
                task_experts = [bank[:, k * te:(k + 1) * te] for k in range(columns)]
                shared = bank[:, columns * te:]
            else:
                task_experts = [self.mlp(f"{prefix}.experts.{c}", branches_in[k], output=False).reshape(n, te, -1)
                                for k, c in enumerate(self.output_columns)]
                shared = self.mlp(f"{prefix}.experts.shared", branches_in[columns], output=False).reshape(n, se, -1)
            outputs = []
            for b in range(columns if last else columns + 1):
                branch_input = x if level == 0 else branches_in[b]
                if b < columns:
                    gate, pool = self.output_columns[b], torch.cat([task_experts[b], shared], dim=1)
                else:
                    gate, pool = "shared", torch.cat(task_experts + [shared], dim=1)
                weights = torch.softmax(self.linear(f"{prefix}.gates.{gate}", branch_input), dim=1)
                outputs.append(self.mix(weights, pool))
            branches_in = outputs
        return torch.cat(branches_in, dim=1)

    def adatt(self, x):
        """AdaTT-sp levels (models/adatt.cc): task k's output is the softmax-gated sum of every task's experts plus
        its own experts again, weighted by its native weights (1 for a single expert)."""
        n = x.shape[0]
        columns = len(self.output_columns)
        m = self.task_experts
        inputs = [x] * columns
        for level in range(self.levels):
            prefix = f"adatt.{level}"
            if level == 0:
                bank = self.mlp(f"{prefix}.experts", x, output=False).reshape(n, columns * m, -1)
            else:
                bank = torch.cat([self.mlp(f"{prefix}.experts.{c}", inputs[k], output=False).reshape(n, m, -1)
                                  for k, c in enumerate(self.output_columns)], dim=1)
            outputs = []
            for k, c in enumerate(self.output_columns):
                weights = torch.softmax(self.linear(f"{prefix}.gates.{c}", inputs[k]), dim=1)
                native = (self.w(f"{prefix}.native.{c}").reshape(-1) if self.has(f"{prefix}.native.{c}")
                          else torch.ones(m))
                added = torch.cat([torch.zeros(k * m), native, torch.zeros((columns - k - 1) * m)])
                outputs.append(self.mix(weights + added, bank))
            inputs = outputs
        return torch.cat(inputs, dim=1)

    def stem(self, x):
        """STEM-Net (models/stem.cc): the shared experts read the shared embeddings, task k's experts its own; task
        k's gate reads every set and weighs every expert. As in training, task k's gradient reaches only the shared
        parts and its own: the other tasks' experts and embedding sets enter its gate and mixture detached."""
        n = x.shape[0]
        columns = len(self.output_columns)
        sets = list(x.split(x.shape[1] // (columns + 1), dim=1))
        banks = [self.mlp("stem.experts.shared", sets[0], output=False).reshape(n, self.experts, -1)]
        banks += [self.mlp(f"stem.experts.{c}", sets[k + 1], output=False).reshape(n, self.task_experts, -1)
                  for k, c in enumerate(self.output_columns)]
        outputs = []
        for k, c in enumerate(self.output_columns):
            kept = (0, k + 1)
            gate_input = torch.cat([s if i in kept else s.detach() for i, s in enumerate(sets)], dim=1)
            pool = torch.cat([b if i in kept else b.detach() for i, b in enumerate(banks)], dim=1)
            weights = torch.softmax(self.linear(f"stem.gates.{c}", gate_input), dim=1)
            outputs.append(self.mix(weights, pool))
        return torch.cat(outputs, dim=1)

    def gate(self, prefix, z):
        """PEPNet's gate unit: γ·σ(W₂·ReLU(W₁z + b₁) + b₂), γ = model.gate_scale."""
        return self.gate_scale * torch.sigmoid(self.mlp(prefix, z, output=True))

    def pepnet(self, x):
        """PEPNet (models/pepnet.cc): EPNet's gate over the scenario's columns and x scales x; each tower layer's
        input is scaled by its task's PPNet gate over the priors' columns and the gated embeddings. The gates' inputs
        other than those features are detached, as in training."""
        model = self.config.get("model", {})
        columns = len(self.output_columns)
        scenario = [c for name in model.get("scenario_features", []) for c in self.feature_columns[name]]
        prior = [c for name in model.get("prior_features", []) for c in self.feature_columns[name]]
        e = x * self.gate("epnet", torch.cat([x[:, scenario], x.detach()], dim=1))
        gate_input = torch.cat([x[:, prior], e.detach()], dim=1)
        h = e.repeat(1, columns)
        layer = 0
        while self.has(f"towers.{layer}.0.weight"):
            h = h * self.gate(f"ppnet.{layer}", gate_input)
            output = not self.has(f"towers.{layer + 1}.0.weight")
            h = self.mlp(f"towers.{layer}", h, output=output)
            layer += 1
        return h

    def home_groups(self):
        """HoME's task groups over the output columns, in models/home.cc's order: model.task_groups' (each task's
        columns), then each task of several columns in none (HeadsConfig), then every other column on its own."""
        model = self.config.get("model", {})
        columns_of = {head.name: head.column_names() for head in self.heads}
        groups, grouped = [], set()
        for group in model.get("task_groups", []):
            groups.append([c for name in group for c in columns_of[name]])
            grouped.update(group)
        groups += [columns_of[h.name] for h in self.heads if h.name not in grouped and len(columns_of[h.name]) > 1]
        placed = {c for group in groups for c in group}
        groups += [[c] for c in self.output_columns if c not in placed]
        return groups

    def home(self, x):
        """HoME (models/home.cc): normalised Swish experts in two levels. The meta level's experts (the shared
        ones, then each group's) read x or, with feature gates, x ⊙ 2σ(up(down(x))) each; each group's branch mixes
        the shared and its own experts, the shared branch every one, and a self gate (σ for one expert, else a
        softmax) adds the branch's own experts again. The task level's experts read the meta outputs: the shared
        ones m_shared, a group's (groups of two or more) and a task's its group's m_g; task k mixes its own, its
        group's and the shared experts, plus its self gate over its own."""
        n = x.shape[0]
        model = self.config.get("model", {})
        groups = self.home_groups()
        names = ["+".join(group) for group in groups]
        group_of = {c: g for g, group in enumerate(groups) for c in group}
        se, ge, te = self.experts, int(model.get("group_experts", 1)), self.task_experts
        count = se + len(groups) * ge
        if int(model.get("feature_gate_rank", 8)) > 0:
            factors = 2 * torch.sigmoid(self.linear("home.0.features.up", self.linear("home.0.features.down", x)))
            bank = self.mlp("home.0.experts", x.repeat(1, count) * factors, output=False, swish=True)
        else:
            bank = self.mlp("home.0.experts", x, output=False, swish=True)
        bank = bank.reshape(n, count, -1)

        def branch(prefix, name, z, pool, own_begin, own_count):
            weights = torch.softmax(self.linear(f"{prefix}.gates.{name}", z), dim=1)
            own = self.linear(f"{prefix}.self.{name}", z)
            own = torch.sigmoid(own) if own_count == 1 else torch.softmax(own, dim=1)
            after = pool.shape[1] - own_begin - own_count
            added = torch.cat([torch.zeros(n, own_begin), own, torch.zeros(n, after)], dim=1)
            return self.mix(weights + added, pool)

        shared = bank[:, :se]
        meta = [branch("home.0", names[g], x, torch.cat([shared, bank[:, se + g * ge:se + (g + 1) * ge]], dim=1),
                       se, ge) for g in range(len(groups))]
        meta_shared = branch("home.0", "shared", x, bank, 0, se)
        top_shared = self.mlp("home.1.experts.shared", meta_shared, output=False, swish=True).reshape(n, se, -1)
        top_groups = {g: self.mlp(f"home.1.experts.{names[g]}", meta[g], output=False, swish=True).reshape(n, ge, -1)
                      for g in range(len(groups)) if len(groups[g]) > 1}
        outputs = []
        for c in self.output_columns:
            g = group_of[c]
            own = self.mlp(f"home.1.experts.{c}", meta[g], output=False, swish=True).reshape(n, te, -1)
            pool = torch.cat([own] + ([top_groups[g]] if g in top_groups else []) + [top_shared], dim=1)
            outputs.append(branch("home.1", c, meta[g], pool, 0, te))
        return torch.cat(outputs, dim=1)

    def aitm(self, x):
        """Per-task encoders; a task with a parent mixes its own representation with g(z_parent) by attention
        (nn/attention_transfer.cc); towers on top (models/aitm.cc)."""
        n = x.shape[0]
        columns = len(self.output_columns)
        encoded = self.mlp("encoders", x, output=False).reshape(n, columns, -1)
        width = encoded.shape[2]
        z = [None] * columns
        information = [None] * columns
        for k in self.order:
            name = self.output_columns[k]
            q = encoded[:, k]
            if self.parent[k] >= 0:
                p = information[self.parent[k]]
                unit = f"ait.{name}"
                scores = []
                values = []
                for u in (p, q):
                    values.append(self.linear(f"{unit}.h1", u))
                    scores.append((self.linear(f"{unit}.h2", u) * self.linear(f"{unit}.h3", u)).sum(1)
                                  / math.sqrt(width))
                w_p = torch.sigmoid(scores[0] - scores[1]).unsqueeze(1)  # a two-way softmax
                z[k] = w_p * values[0] + (1 - w_p) * values[1]
            else:
                z[k] = q
            if self.has(f"transfer.{name}.0.weight"):
                information[k] = self.mlp(f"transfer.{name}", z[k], output=False)
        return self.mlp("towers", torch.cat(z, dim=1), output=True)

    def graph(self, conditional):
        """float32 [rows, columns] -> float64 outputs: a chain column becomes the logit of σ(s_k)·σ(parent's
        output), bounded; a ladder's rung adds softplus of its own output to the rung below."""
        columns = list(conditional.double().unbind(1))  # one tensor per column: no in-place writes for autograd
        for k in self.chain_order:
            columns[k] = chain_logit(columns[k], columns[self.parent[k]])
        for k, below in self.rungs:
            columns[k] = (columns[below] + F.softplus(conditional[:, k].double())).float().double()
        return torch.stack(columns, dim=1)

    def forward(self, inputs):
        return self.graph(self.body(self.input(inputs))).float()

    # --- predictions ---

    def encode(self, data):
        return self.encoder.encode(data)

    def predict(self, inputs, outputs=None, quantile_slopes=None):
        """{prediction column: float64 [rows]}, the columns `mtrec predict` writes in its order: each task's
        prediction (a row's treatment arm's), then each ziln task's quantiles, each treated task's uplift, treated
        and control predictions. A dict passed as quantile_slopes receives each quantile column's
        |d quantile / d p| (ziln_quantile_slope)."""
        if outputs is None:
            with torch.no_grad():
                outputs = self.graph(self.body(self.input(inputs)))
        outputs = outputs.detach().double()
        predictions = {}
        extras = {}
        for head in self.heads:
            control = outputs[:, head.first:head.first + head.arm_width]
            treated = outputs[:, head.first + (head.arms - 1) * head.arm_width:head.first + head.arms * head.arm_width]
            if head.treatment:
                is_treated = torch.from_numpy(inputs.treatments[head.treatment] == 1.0).unsqueeze(1)
                arm = torch.where(is_treated, treated, control)
            else:
                arm = control
            predictions[head.name] = head.arm_value(arm)
            for q in head.quantiles:
                extras[f"{head.name}_{quantile_suffix(q)}"] = ziln_quantile(arm, q)
                if quantile_slopes is not None:
                    quantile_slopes[f"{head.name}_{quantile_suffix(q)}"] = ziln_quantile_slope(arm, q).numpy()
            if head.treatment:
                extras[f"{head.name}_uplift"] = head.arm_value(treated) - head.arm_value(control)
                extras[f"{head.name}_treated"] = head.arm_value(treated)
                extras[f"{head.name}_control"] = head.arm_value(control)
        # mtrec's order: every task's prediction, then per task its quantiles and treatment columns.
        for head in self.heads:
            for name in [f"{head.name}_{quantile_suffix(q)}" for q in head.quantiles]:
                predictions[name] = extras[name]
            if head.treatment:
                for suffix in ("uplift", "treated", "control"):
                    predictions[f"{head.name}_{suffix}"] = extras[f"{head.name}_{suffix}"]
        return predictions


def read_data(model, path):
    """A CSV file as the model's config says its data is written (data.delimiter); it must have a header row."""
    data = model.config.get("data", {})
    if not data.get("header", True):
        raise ValueError(f"{path}: the model's data has no header row (data.header = false); this reader needs one")
    return read_csv(path, data.get("delimiter", ","))


def load(path):
    """The model of an `mtrec export --format safetensors` file, as an MtrecModel in eval mode."""
    tensors, metadata = read_safetensors(path)
    model = MtrecModel(tensors, metadata)
    model.eval()
    return model
