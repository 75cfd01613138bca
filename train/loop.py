"""The training loop for one model: epochs, validation, best checkpoint, test, baseline.

Simple on purpose (the models are small MLPs): Adam on the mean row loss; after
each epoch the validation loss picks the best weights (a deep copy, restored at
the end; with no validation row, the epoch's training loss picks them and
``selected_on`` says so); the test split is scored once with those weights and
with the predict-the-mean baseline (the mean train target, collected during
epoch 1). An empty split scores ``nan`` with ``rows`` 0 (metrics.json: null and a reason).
Under torchrun, DistributedDataParallel averages gradients, ``join()`` lets
ranks with fewer batches finish, and every loss is summed over ranks.
"""

from __future__ import annotations

import contextlib
import copy
import math
from dataclasses import dataclass, field

import numpy as np
import torch
from tqdm.auto import tqdm

from kelly_hf import emotion
from train.distributed import Dist
from train.models import ModelSpec, constant_row_losses, row_losses


@dataclass
class FitResult:
    history: list[dict] = field(default_factory=list)   # per epoch: epoch, train_loss, validation_loss
    best_epoch: int = 0
    best_validation_loss: float = math.inf   # nan when there was no validation row
    selected_on: str = "validation"          # the loss that picked the best epoch: "validation" or "train"
    test: dict = field(default_factory=dict)             # loss, rows (+ valence_mae, arousal_mae)
    baseline_test: dict = field(default_factory=dict)    # the same for predict-the-mean
    rows_seen: int = 0                                   # training rows processed, all epochs and ranks
    rows: dict = field(default_factory=dict)             # rows per split (all ranks)
    seen: dict = field(default_factory=dict)             # "train/<epoch>", "validation", "test" -> ids read (debug)


def fit(spec: ModelSpec, model: torch.nn.Module, batches: dict, *, epochs: int, lr: float, dist: Dist,
        progress: bool = True, record_ids: bool = False) -> FitResult:
    """Train ``model`` in place (ending with its best validation weights)."""
    device = dist.device
    result = FitResult(seen={"validation": set(), "test": set()} if record_ids else {})
    net = model
    if dist.world > 1:
        net = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    target_sum = np.zeros(spec.model.SIZES[-1])
    best_state, best_score = copy.deepcopy(model.state_dict()), math.inf
    bar = tqdm(range(epochs), desc=f"{spec.key:<8}", unit="epoch", disable=not (progress and dist.is_main),
               dynamic_ncols=True)
    for epoch in bar:
        net.train()
        total = np.zeros(2)  # loss sum, rows
        with net.join() if dist.world > 1 else contextlib.nullcontext():
            for x, y, ids in batches["train"].epoch(epoch):
                x, y = x.to(device), y.to(device)
                losses = row_losses(spec, net, x, y)
                optimizer.zero_grad(set_to_none=True)
                losses.mean().backward()
                optimizer.step()
                total += (float(losses.detach().sum()), len(y))
                if epoch == 0:
                    target_sum += y.detach().cpu().double().sum(0).numpy()
                if record_ids:
                    result.seen.setdefault(f"train/{epoch + 1}", set()).update(ids)
        total = dist.all_sum(total)
        if epoch == 0:
            mean_target = torch.as_tensor(dist.all_sum(target_sum) / max(total[1], 1), dtype=torch.float32,
                                          device=device)
        result.rows_seen += int(total[1])
        train_loss = float(total[0] / max(total[1], 1))
        val = evaluate(spec, batches["validation"], dist, model=model, seen=result.seen.get("validation"))
        # No validation row (a tiny corpus): select on the training loss.
        result.selected_on = "validation" if val["rows"] else "train"
        score = val["loss"] if val["rows"] else train_loss
        if score < best_score:
            best_score, result.best_epoch = score, epoch + 1
            result.best_validation_loss = val["loss"]
            best_state = copy.deepcopy(model.state_dict())
        result.history.append({"epoch": epoch + 1, "train_loss": train_loss, "validation_loss": val["loss"]})
        bar.set_postfix(train=f"{train_loss:.4f}", val=f"{val['loss']:.4f}", best=result.best_epoch)
    bar.close()
    model.load_state_dict(best_state)
    result.test = evaluate(spec, batches["test"], dist, model=model, seen=result.seen.get("test"))
    result.baseline_test = evaluate(spec, batches["test"], dist, mean=mean_target)
    result.rows = {"train": result.rows_seen // epochs, "validation": val["rows"], "test": result.test["rows"]}
    return result


@torch.no_grad()
def evaluate(spec: ModelSpec, reader, dist: Dist, *, model=None, mean=None, seen: set | None = None) -> dict:
    """Mean row loss over a split (all ranks) of ``model``, or of always predicting ``mean``.

    For an emotion target it also reports the decoded valence / arousal mean
    absolute error (decoded as the engine does, kelly_hf.emotion.decode_batch).
    """
    if model is not None:
        model.eval()
    sums = np.zeros(4)  # loss, rows, |valence error|, |arousal error|
    for x, y, ids in reader.epoch(0):
        x, y = x.to(dist.device), y.to(dist.device)
        if model is not None:
            losses, out = row_losses(spec, model, x, y), model(x)
        else:
            losses, out = constant_row_losses(spec, mean, y), mean.expand_as(y)
        sums[:2] += (float(losses.sum()), len(y))
        if spec.target == "emotion":
            errors = np.abs(emotion.decode_batch(out.cpu().numpy()) - emotion.decode_batch(y.cpu().numpy()))
            sums[2:] += errors[:, :2].sum(0)
        if seen is not None:
            seen.update(ids)
    sums = dist.all_sum(sums)
    n = sums[1]
    per_row = [float(v / n) if n else math.nan for v in sums]
    report = {"loss": per_row[0], "rows": int(n)}
    if spec.target == "emotion":
        report.update(valence_mae=per_row[2], arousal_mae=per_row[3])
    return report
