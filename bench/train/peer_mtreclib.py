"""The peer of `mtrec bench train`: MTReclib's own PyTorch models on random data of the AliExpress shape.

16 categorical fields of 10,000 ids, 63 numeric features, embeddings 128 wide, batch 2048, 2 binary tasks,
dropout 0.2, Adam at lr 1e-3; MMoE 8 experts of (512, 256), shared-bottom (512, 256), PLE 2 levels (512, 256) of
4 shared and 4 task experts; towers (128, 64). Times forward + loss + backward + Adam step after 3 warm-up steps and
prints 'samples/s: N' last, with the peak resident memory before it.

Usage: python3 bench/train/peer_mtreclib.py --mtreclib DIR --arch mmoe|shared_bottom|ple [--seconds S] [--threads T]
                                          [--compile] [--bf16] [--adam default|foreach|fused]
DIR is a checkout of github.com/easezyc/Multitask-Recommendation-Library (read, never part of mtrec). Runs on
Debian's python3-torch 1.13 or on torch 2.x (bench/python_env.sh makes a venv with PyPI's newest); for the
comparison only.

The peer at its best on torch 2.x:
  --compile  torch.compile(model) (default mode: inductor's C++ backend, needs g++ and Python's headers); the
             compilation happens in the warm-up steps, outside the timing. If it fails, the message is printed and
             the peer goes on in eager mode (the first line says which ran).
  --bf16     torch.autocast("cpu", dtype=torch.bfloat16) around forward + loss (weights, gradients and Adam stay
             f32). Only on a CPU with bf16 matmul (avx512_bf16 or amx_bf16, and oneDNN in torch): otherwise prints
             'bf16: not supported by this CPU' and exits 3.
  --adam     Adam's implementation: torch's default for CPU tensors (the per-parameter loop), foreach or fused
             (fused on the CPU needs torch >= 2.4).
"""
import argparse
import contextlib
import os
import resource
import sys
import time


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--mtreclib", required=True)
    parser.add_argument("--arch", default="mmoe", choices=["mmoe", "shared_bottom", "ple"])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="torch.compile the model (default mode)")
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast around forward + loss")
    parser.add_argument("--adam", default="default", choices=["default", "foreach", "fused"])
    parser.add_argument("--warmup", type=int, default=None,
                        help="untimed steps first: 3, or 6 with --compile (compilation happens in the first)")
    args = parser.parse_args()
    with open("/proc/cpuinfo") as cpuinfo:
        cpu_flags = set()
        for line in cpuinfo:
            if line.startswith("flags"):
                cpu_flags.update(line.split(":", 1)[1].split())
    cpu_bf16 = sorted(cpu_flags & {"avx512_bf16", "amx_bf16"})
    if args.bf16 and not cpu_bf16:
        print("bf16: not supported by this CPU (no avx512_bf16 or amx_bf16 in /proc/cpuinfo)")
        sys.exit(3)
    # OpenBLAS picks its kernels and threads when torch loads: set both first.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    if "avx512f" in cpu_flags:
        os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
    # torch.compile: compile in this process (inductor otherwise starts a pool of worker processes, which stay
    # beside the timed steps); TORCHINDUCTOR_COMPILE_THREADS in the environment overrides it.
    os.environ.setdefault("TORCHINDUCTOR_COMPILE_THREADS", "1")
    import warnings
    import numpy
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if not hasattr(numpy, "long"):
            numpy.long = numpy.int64  # MTReclib uses an alias that NumPy 1.24 removed
    import torch
    sys.path.insert(0, args.mtreclib)
    sys.path.insert(0, os.path.join(args.mtreclib, "models"))  # ple.py imports `layers` directly
    from models.mmoe import MMoEModel
    from models.ple import PLEModel
    from models.sharedbottom import SharedBottomModel

    if args.bf16:
        try:  # oneDNN's own check (torch 2.x); on an older torch only whether oneDNN is there
            mkldnn_bf16 = bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
        except (AttributeError, RuntimeError):
            mkldnn_bf16 = True
        if not torch.backends.mkldnn.is_available() or not mkldnn_bf16:
            print(f"bf16: not supported by this CPU (torch {torch.__version__}: oneDNN "
                  f"{'has no bf16 here' if torch.backends.mkldnn.is_available() else 'not available'})")
            sys.exit(3)
    torch.set_num_threads(args.threads)
    cpu_backend = getattr(torch.backends, "cpu", None)  # torch 1.13 has none
    capability = cpu_backend.get_cpu_capability() if hasattr(cpu_backend, "get_cpu_capability") else "?"
    print(f"torch {torch.__version__} ({os.path.dirname(torch.__file__)}), python {sys.version.split()[0]}, "
          f"{torch.get_num_threads()} threads, CPU capability {capability}, bf16 in the CPU: "
          f"{', '.join(cpu_bf16) or 'no'}", flush=True)
    torch.manual_seed(1)
    fields, numeric, embed, batch, tasks = [10000] * 16, 63, 128, 2048, 2
    if args.arch == "mmoe":
        model = MMoEModel(fields, numeric, embed, (512, 256), (128, 64), tasks, 8, 0.2)
    elif args.arch == "shared_bottom":
        model = SharedBottomModel(fields, numeric, embed, (512, 256), (128, 64), tasks, 0.2)
    else:
        model = PLEModel(fields, numeric, embed, (512, 256), (128, 64), tasks, 4, 4, 0.2)
    model.train()
    adam_options = {} if args.adam == "default" else {args.adam: True}
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, **adam_options)
    loss_fn = torch.nn.BCELoss()
    forward = model
    compiled = False
    if args.compile:
        if hasattr(torch, "compile"):
            forward = torch.compile(model)
            compiled = True
        else:
            print(f"compile: torch {torch.__version__} has no torch.compile; running eager", flush=True)
    autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if args.bf16 else contextlib.nullcontext
    batches = []
    for _ in range(4):
        batches.append((torch.randint(0, 10000, (batch, len(fields))), torch.randn(batch, numeric),
                        torch.randint(0, 2, (batch, tasks)).float()))

    def step(i):
        categorical, numerical, labels = batches[i % len(batches)]
        with autocast():
            results = forward(categorical, numerical)
            # BCELoss on f32 probabilities: autocast would run it in f32 anyway (and refuses it on CUDA).
            loss = sum(loss_fn(results[k].float(), labels[:, k]) for k in range(tasks))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    warm_start = time.perf_counter()
    try:
        step(0)
    except Exception as error:  # torch.compile fails at the first call (no compiler, an unsupported op, ...)
        if not compiled:
            raise
        message = str(error).strip().splitlines()
        print(f"compile: torch.compile failed ({type(error).__name__}: {message[0] if message else ''}); "
              f"running eager", flush=True)
        forward, compiled = model, False
        step(0)
    if args.warmup is None:
        args.warmup = 6 if compiled else 3
    for i in range(1, args.warmup):
        step(i)
    mode = "+".join(([] if not compiled else ["compile"]) + (["bf16"] if args.bf16 else [])) or "eager"
    if args.adam != "default":
        mode += f", adam {args.adam}"
    print(f"mode: {mode}; {args.warmup} warm-up steps in {time.perf_counter() - warm_start:.1f} s", flush=True)
    steps = 0
    times = []
    cpu_start = time.process_time()
    start = last = time.perf_counter()
    while last - start < args.seconds:
        step(steps)
        steps += 1
        now = time.perf_counter()
        times.append(now - last)
        last = now
    elapsed = last - start
    cpu_used = time.process_time() - cpu_start
    times.sort()
    print(f"step ms: fastest {1e3 * times[0]:.0f}, median {1e3 * times[len(times) // 2]:.0f}, "
          f"slowest {1e3 * times[-1]:.0f}; {cpu_used / elapsed:.2f} cores busy in this process, "
          f"{torch.get_num_threads()} torch threads")
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"MTReclib {args.arch} ({mode}), torch {torch.__version__}, {args.threads} threads: {steps} steps in {elapsed:.2f} s, "
          f"peak memory {peak_mib:.0f} MiB")
    print(f"samples/s: {steps * batch / elapsed:.0f}")


if __name__ == "__main__":
    main()
