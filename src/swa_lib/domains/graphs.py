"""Node classification on stochastic-block-model graphs made as CLUSTER, and the course's GCN.

**The data.** The course's graph row uses CLUSTER (Dwivedi et al., *Benchmarking Graph Neural
Networks*; ``src/swa_benchmark/datasets/graph.py`` loads it with ``torch_geometric``'s
``GNNBenchmarkDataset``), which needs a download. :func:`make_sbm_cluster` generates graphs by the
same recipe offline: each graph has 6 communities whose sizes are drawn uniformly from 5..35
(40-210 nodes), an edge joins two nodes of the same community with probability ``p = 0.55`` and of
different communities with ``q = 0.25`` (undirected, no self-loops), the label of a node is its
community, and the input reveals one randomly chosen node per community: its feature is
``community + 1``, every other node's is 0, one-hot encoded in 7 dimensions (the course's
``input_size = 7``, ``scripts/Cluster/gcn.py`` line 24). What differs from CLUSTER: the random
draws (not the published graphs), the number of graphs (CLUSTER: 10,000 train / 1,000 test; a
parameter here) and node order. The course's accuracy is the plain fraction of nodes classified
correctly (``utils/metric.py``), not the class-weighted accuracy Dwivedi et al. report.

**The model.** :class:`CourseGCN` is the course's ``GraphConvolutionalNetwork``
(``models/gcn.py``): ``torch_geometric.nn.models.GCN(in, 32, out=32, num_layers=3)`` -- three
``GCNConv`` layers ``H <- D^{-1/2} (A + I) D^{-1/2} H W + b`` (Glorot ``W``, zero ``b``) with ReLU
between them and none after the last -- then ``Linear(32, 32) -> ReLU -> Linear(32, 6)``. It is
written in plain torch with a sparse normalised adjacency (:func:`normalized_adjacency`); the
tests check it against ``torch_geometric`` where that is installed.

:class:`GraphDomain` batches whole graphs as a block-diagonal adjacency (``torch_geometric``'s
``DataLoader`` does the same), so a batch is ``((x, adj), y)`` over all its nodes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

__all__ = [
    "make_sbm_cluster",
    "normalized_adjacency",
    "CourseGCN",
    "GraphDomain",
    "Graph",
    "CLUSTER_RECIPE",
]

#: Dwivedi et al.'s CLUSTER generation parameters.
CLUSTER_RECIPE = {"num_communities": 6, "size_min": 5, "size_max": 35, "p": 0.55, "q": 0.25}


@dataclass
class Graph:
    """One graph: one-hot inputs ``x (n, 7)``, labels ``y (n,)``, undirected ``edges (2, E)``
    (both directions listed)."""

    x: Tensor
    y: Tensor
    edges: Tensor

    @property
    def num_nodes(self) -> int:
        return int(self.x.shape[0])


def _sbm_graph(
    rng: np.random.Generator, num_communities: int, size_min: int, size_max: int, p: float, q: float
) -> Graph:
    sizes = rng.integers(size_min, size_max + 1, size=num_communities)
    labels = np.repeat(np.arange(num_communities), sizes)
    labels = labels[rng.permutation(labels.size)]
    same = labels[:, None] == labels[None, :]
    prob = np.where(same, p, q)
    upper = np.triu(rng.random(prob.shape) < prob, k=1)
    src, dst = np.nonzero(upper | upper.T)
    feature = np.zeros(labels.size, np.int64)
    for c in range(num_communities):
        feature[rng.choice(np.flatnonzero(labels == c))] = c + 1
    x = torch.nn.functional.one_hot(torch.as_tensor(feature), num_communities + 1).float()
    return Graph(
        x,
        torch.as_tensor(labels, dtype=torch.int64),
        torch.as_tensor(np.stack([src, dst]), dtype=torch.int64),
    )


def make_sbm_cluster(
    num_train: int, num_test: int, *, seed: int = 0, **recipe: float
) -> GraphDomain:
    """``num_train`` + ``num_test`` SBM graphs by the CLUSTER recipe (:data:`CLUSTER_RECIPE`,
    overridable by keyword), drawn with ``numpy.random.default_rng(seed)``."""
    unknown = set(recipe) - set(CLUSTER_RECIPE)
    if unknown:
        raise ValueError(
            f"unknown recipe fields {sorted(unknown)}; allowed: {', '.join(CLUSTER_RECIPE)}"
        )
    if num_train < 1 or num_test < 1:
        raise ValueError(f"num_train and num_test must be >= 1, got {num_train}, {num_test}")
    r = {**CLUSTER_RECIPE, **recipe}
    rng = np.random.default_rng(seed)
    graphs = [
        _sbm_graph(
            rng,
            int(r["num_communities"]),
            int(r["size_min"]),
            int(r["size_max"]),
            float(r["p"]),
            float(r["q"]),
        )
        for _ in range(num_train + num_test)
    ]
    return GraphDomain(
        "sbm_cluster",
        graphs[:num_train],
        graphs[num_train:],
        int(r["num_communities"]),
        info={**r, "num_train": num_train, "num_test": num_test, "seed": seed},
    )


def normalized_adjacency(edges: Tensor, num_nodes: int) -> Tensor:
    r"""``D^{-1/2} (A + I) D^{-1/2}`` as a sparse COO ``(num_nodes, num_nodes)`` tensor, ``D`` the
    degrees of ``A + I`` (GCN's renormalisation, Kipf & Welling 2017; ``GCNConv``'s default)."""
    loops = torch.arange(num_nodes, device=edges.device).repeat(2, 1)
    index = torch.cat([edges, loops], dim=1)
    deg = torch.zeros(num_nodes, device=edges.device).index_add_(
        0, index[1], torch.ones(index.shape[1], device=edges.device)
    )
    inv = deg.rsqrt()
    values = inv[index[0]] * inv[index[1]]
    return torch.sparse_coo_tensor(index, values, (num_nodes, num_nodes)).coalesce()


class _GCNConv(nn.Module):
    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.lin = nn.Linear(c_in, c_out, bias=False)
        nn.init.xavier_uniform_(self.lin.weight)
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        return torch.sparse.mm(adj, self.lin(x)) + self.bias


class CourseGCN(nn.Module):
    """Three GCN layers (ReLU between) then a 2-layer MLP head; ``forward(x, adj)`` with ``x``
    ``(n, input_size)`` and ``adj`` from :func:`normalized_adjacency`, logits ``(n, classes)``."""

    def __init__(
        self,
        input_size: int = 7,
        output_size: int = 6,
        hidden_size_graph: int = 32,
        hidden_size_mlp: int = 32,
        n_layers: int = 3,
    ) -> None:
        super().__init__()
        if n_layers < 1:
            raise ValueError(f"n_layers must be >= 1, got {n_layers}")
        dims = [input_size] + [hidden_size_graph] * n_layers
        self.convs = nn.ModuleList(_GCNConv(a, b) for a, b in zip(dims[:-1], dims[1:]))
        self.mlp = nn.Sequential(
            nn.Linear(hidden_size_graph, hidden_size_mlp),
            nn.ReLU(),
            nn.Linear(hidden_size_mlp, output_size),
        )

    def forward(self, x: Tensor, adj: Tensor) -> Tensor:
        for i, conv in enumerate(self.convs):
            x = conv(x, adj)
            if i < len(self.convs) - 1:
                x = torch.relu(x)
        return self.mlp(x)


@dataclass
class GraphDomain:
    """Train and test graphs; the :class:`~swa_lib.domains.base.TensorDomain` interface with
    whole graphs as the unit of a batch (``batch_size`` counts graphs, ``n`` counts nodes)."""

    name: str
    train: list[Graph]
    test: list[Graph]
    num_outputs: int
    info: dict[str, Any] = field(default_factory=dict)
    task: str = "classification"
    device: str = "cpu"

    def n(self, split: str) -> int:
        return sum(g.num_nodes for g in self._graphs(split))

    def _graphs(self, split: str) -> list[Graph]:
        if split not in ("train", "test"):
            raise ValueError(f"split={split!r}; allowed: 'train', 'test'")
        return self.train if split == "train" else self.test

    def collate(self, graphs: list[Graph]) -> tuple[tuple[Tensor, Tensor], Tensor]:
        """``((x, adj), y)`` of the disjoint union of ``graphs`` (block-diagonal ``adj``)."""
        offsets = np.cumsum([0] + [g.num_nodes for g in graphs])
        edges = torch.cat([g.edges + int(o) for g, o in zip(graphs, offsets[:-1])], dim=1)
        x = torch.cat([g.x for g in graphs]).to(self.device)
        adj = normalized_adjacency(edges.to(self.device), int(offsets[-1]))
        return (x, adj), torch.cat([g.y for g in graphs]).to(self.device)

    def batches(
        self,
        split: str,
        batch_size: int,
        *,
        shuffle: bool = False,
        generator: torch.Generator | None = None,
    ) -> Iterator[tuple[tuple[Tensor, Tensor], Tensor]]:
        graphs = self._graphs(split)
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        order = (
            torch.randperm(len(graphs), generator=generator).tolist()
            if shuffle
            else list(range(len(graphs)))
        )
        for i in range(0, len(order), batch_size):
            yield self.collate([graphs[j] for j in order[i : i + batch_size]])

    def augment(self, x: Any, generator: torch.Generator) -> Any:
        return x

    def to(self, device: str | torch.device) -> GraphDomain:
        return GraphDomain(
            self.name,
            self.train,
            self.test,
            self.num_outputs,
            dict(self.info),
            self.task,
            str(device),
        )
