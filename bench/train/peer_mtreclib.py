"""The peer of `mtrec bench train`: MTReclib's own PyTorch models on random data of the AliExpress shape.

16 categorical fields of 10,000 ids, 63 numeric features, embeddings 128 wide, batch 2048, 2 binary tasks,
dropout 0.2, Adam at lr 1e-3; MMoE 8 experts of (512, 256), shared-bottom (512, 256), PLE 2 levels (512, 256) of
4 shared and 4 task experts; towers (128, 64). Times forward + loss + backward + Adam step after 3 warm-up steps and
prints 'samples/s: N' last, with the peak resident memory before it.

Usage: python3 bench/train/peer_mtreclib.py --mtreclib DIR --arch mmoe|shared_bottom|ple [--seconds S] [--threads T]
DIR is a checkout of github.com/easezyc/Multitask-Recommendation-Library (read, never part of mtrec). Needs
python3-torch and python3-numpy from Debian; for the comparison only.
"""
import argparse
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
    args = parser.parse_args()
    # OpenBLAS picks its kernels and threads when torch loads: set both first.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))
    with open("/proc/cpuinfo") as cpuinfo:
        if " avx512f" in cpuinfo.read():
            os.environ.setdefault("OPENBLAS_CORETYPE", "SkylakeX")
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

    torch.set_num_threads(args.threads)
    torch.manual_seed(1)
    fields, numeric, embed, batch, tasks = [10000] * 16, 63, 128, 2048, 2
    if args.arch == "mmoe":
        model = MMoEModel(fields, numeric, embed, (512, 256), (128, 64), tasks, 8, 0.2)
    elif args.arch == "shared_bottom":
        model = SharedBottomModel(fields, numeric, embed, (512, 256), (128, 64), tasks, 0.2)
    else:
        model = PLEModel(fields, numeric, embed, (512, 256), (128, 64), tasks, 4, 4, 0.2)
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.BCELoss()
    batches = []
    for _ in range(4):
        batches.append((torch.randint(0, 10000, (batch, len(fields))), torch.randn(batch, numeric),
                        torch.randint(0, 2, (batch, tasks)).float()))

    def step(i):
        categorical, numerical, labels = batches[i % len(batches)]
        results = model(categorical, numerical)
        loss = sum(loss_fn(results[k], labels[:, k]) for k in range(tasks))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for i in range(3):
        step(i)
    steps = 0
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        step(steps)
        steps += 1
    elapsed = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"MTReclib {args.arch}, torch {torch.__version__}, {args.threads} threads: {steps} steps in {elapsed:.2f} s, "
          f"peak memory {peak_mib:.0f} MiB")
    print(f"samples/s: {steps * batch / elapsed:.0f}")


if __name__ == "__main__":
    main()
