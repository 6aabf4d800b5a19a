"""GPU check of ``swa_lib.swag``: collect, sample and BMA for a CIFAR-shaped model on CUDA.

Collects ``--iterates`` (20) perturbed copies of a CIFAR model (default ``wrn28_10``, 36.5M
parameters) with rank ``--rank`` (20), draws ``--samples`` (5) models with and without the BN
update, runs ``predict_bma`` on ``--images`` (512) random 3x32x32 images, checks the SWAG mean
against :class:`swa_lib.averaging.SWA` and prints timings and memory. Without CUDA it says so and
exits 0.

    python benchmarks/gpu_swag_check.py [--model preresnet164] [--rank 20]
"""

from __future__ import annotations

import argparse
import sys
import time

import torch


def _timed(fn, repeats: int = 1) -> tuple[object, list[float]]:
    """Result of the last call and the wall time of each call in ms (CUDA synchronised)."""
    out, times = None, []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        times.append((time.perf_counter() - t0) * 1e3)
    return out, times


def _fmt(times: list[float]) -> str:
    """``first`` call (warm-up included) and the median of the others, in ms."""
    rest = sorted(times[1:]) or times
    return f"first {times[0]:.1f} ms, then median {rest[len(rest) // 2]:.1f} ms"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="wrn28_10")
    ap.add_argument("--rank", type=int, default=20)
    ap.add_argument("--iterates", type=int, default=20)
    ap.add_argument("--samples", type=int, default=5)
    ap.add_argument("--images", type=int, default=512)
    ap.add_argument("--batch-size", type=int, default=128)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("gpu_swag_check: CUDA is not available here; nothing to check (exit 0).")
        return 0

    from swa_lib.averaging import SWA
    from swa_lib.models import build_model
    from swa_lib.swag import SWAG, predict_bma

    dev = torch.device("cuda")
    torch.manual_seed(0)
    torch.backends.cudnn.benchmark = True
    model = build_model(args.model, 10).to(dev)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"device: {torch.cuda.get_device_name(dev)}; torch {torch.__version__}")
    print(
        f"model: {args.model}, {n_params / 1e6:.2f}M parameters; rank {args.rank}, "
        f"{args.iterates} iterates, {args.samples} samples, {args.images} images"
    )

    base = torch.cuda.memory_allocated(dev)
    swag = SWAG(model, max_rank=args.rank)
    state_mb = (torch.cuda.memory_allocated(dev) - base) / 2**20
    swa_mb = n_params * 4 / 2**20
    print(
        f"SWAG state: {state_mb:.0f} MiB (= {(state_mb - swa_mb) / swa_mb:.1f} float32 copies "
        f"of the parameters)"
    )
    swa = SWA(model)

    g = torch.Generator(device=dev).manual_seed(0)
    collect_ms = []
    for _ in range(args.iterates):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn(p.shape, device=dev, generator=g), alpha=1e-2)
        _, ms = _timed(lambda: swag.collect(model))
        collect_ms += ms
        swa.update(model)
    print(f"collect: {_fmt(collect_ms)}")

    swa_vec = torch.nn.utils.parameters_to_vector(swa.module.parameters()).double()
    mean_err = (swag.mean - swa_vec).abs().max().item()
    var = swag.variance
    n = args.iterates
    expected_var = 1e-4 * (n * n - 1) / (6 * n)  # E[population variance] of a random walk
    var_ratio = var.mean().item() / expected_var
    print(
        f"mean vs SWA: max |diff| = {mean_err:.2e}; variance averaged over parameters "
        f"{var.mean().item():.4e}, the random walk of step 1e-2 expects {expected_var:.4e} "
        f"(ratio {var_ratio:.4f}); rank {swag.rank}"
    )

    images = torch.randn(args.images, 3, 32, 32, device=dev, generator=g)
    bn_batches = [images[i : i + args.batch_size] for i in range(0, args.images, args.batch_size)]
    _, ms = _timed(lambda: swag.sample_vector(generator=g), args.samples)
    print(f"sample_vector: {_fmt(ms)}")
    _, ms = _timed(swag._new_model, args.samples)
    print(f"  of sample(): a new model from the meta template: {_fmt(ms)}")
    _, ms = _timed(lambda: swag.sample(generator=g), args.samples)
    print(f"sample (new model, no BN update): {_fmt(ms)}")
    sampled, ms = _timed(lambda: swag.sample(generator=g, bn_batches=bn_batches), args.samples)
    print(f"sample + update_bn over {args.images} images: {_fmt(ms)}")
    assert next(sampled.parameters()).is_cuda

    probs, ms_list = _timed(
        lambda: predict_bma(
            swag,
            images,
            num_samples=args.samples,
            bn_batches=bn_batches,
            generator=g,
            batch_size=args.batch_size,
        ),
        2,
    )
    ms = ms_list[-1]
    assert probs.shape == (args.images, 10) and probs.is_cuda
    sums_err = (probs.sum(1) - 1).abs().max().item()
    assert torch.isfinite(probs).all() and sums_err < 1e-4, sums_err
    print(
        f"predict_bma ({args.samples} samples, BN update each; 2nd call): {ms:.0f} ms total, "
        f"{ms / args.samples:.0f} ms per sample; probabilities sum to 1 within {sums_err:.1e}"
    )
    print(f"peak GPU memory: {torch.cuda.max_memory_allocated(dev) / 2**30:.2f} GiB")
    if mean_err > 1e-4 or abs(var_ratio - 1) > 0.02:
        print("FAIL: SWAG mean disagrees with SWA or the variance with the random walk")
        return 1
    print("gpu_swag_check: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
