"""One process or many (``torchrun``): rank, world size, device and the few collectives we need.

Under ``torchrun`` (``WORLD_SIZE`` > 1) the process group uses NCCL on CUDA and
gloo otherwise, so ``torchrun --nproc_per_node=2`` works on a CPU-only machine.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as tdist


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.world > 1:
            tdist.barrier()

    def all_sum(self, values) -> np.ndarray:
        """Element-wise sum over ranks (float64)."""
        arr = np.asarray(values, dtype=np.float64)
        if self.world == 1:
            return arr
        t = torch.as_tensor(arr, device=self.device)
        tdist.all_reduce(t)
        return t.cpu().numpy()

    def broadcast(self, obj):
        """Rank 0's ``obj`` on every rank."""
        if self.world == 1:
            return obj
        box = [obj]
        tdist.broadcast_object_list(box, src=0, device=self.device if self.device.type == "cuda" else None)
        return box[0]

    def close(self) -> None:
        if self.world > 1 and tdist.is_initialized():
            tdist.destroy_process_group()


def init(device: str = "cpu") -> Dist:
    """Set up the device and, under torchrun, the process group."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("error: --device cuda but torch sees no CUDA device")
        dev = torch.device("cuda", local_rank % torch.cuda.device_count())
        torch.cuda.set_device(dev)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS
    elif device == "mps":
        if not torch.backends.mps.is_available():
            raise SystemExit("error: --device mps but MPS is not available")
        if world > 1:
            raise SystemExit("error: distributed training needs cpu (gloo) or cuda (nccl), not mps")
        dev = torch.device("mps")
    else:
        dev = torch.device("cpu")
    if world > 1 and not tdist.is_initialized():
        tdist.init_process_group("nccl" if dev.type == "cuda" else "gloo")
    return Dist(rank=rank, world=world, device=dev)
