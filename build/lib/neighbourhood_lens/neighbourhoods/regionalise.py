"""Core of the regionalisation: size-constrained SKATER on integer-indexed arrays.

Private: :mod:`neighbourhood_lens.neighbourhoods.build` prepares the inputs (codes -> integer
positions, standardised variables, population, LAD groups, contiguity links) and turns the
labels this module returns into named neighbourhoods. The problem solved and the method are
documented in :func:`regionalise`.
"""

from __future__ import annotations

import heapq

import numpy as np

__all__ = ["regionalise", "ssd"]


def ssd(pop: np.ndarray, sx: np.ndarray, sxx: np.ndarray) -> np.ndarray:
    """Population-weighted sum of squared deviations from sufficient statistics.

    With ``pop`` = :math:`\\sum w_i`, ``sx`` = :math:`\\sum w_i x_i` (one column per variable)
    and ``sxx`` = :math:`\\sum_i w_i \\lVert x_i \\rVert^2`:

    .. math:: \\mathrm{SSD} = \\sum_i w_i \\lVert x_i - \\bar x \\rVert^2
              = \\sum_i w_i \\lVert x_i \\rVert^2 - \\lVert \\sum_i w_i x_i \\rVert^2 / \\sum_i w_i

    >>> float(ssd(np.array([2.0]), np.array([[2.0]]), np.array([4.0]))[0])  # x = 0 and 2, w = 1
    2.0
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        out = sxx - np.einsum("...k,...k->...", sx, sx) / pop
    return np.where(pop > 0, np.maximum(out, 0.0), 0.0)


def _spanning_forest(
    x: np.ndarray, a: np.ndarray, b: np.ndarray, n: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Minimum spanning forest of the graph (a, b) weighted by Euclidean dissimilarity.

    Returns ``order`` (depth-first preorder of the nodes), ``parent`` (parent position in
    ``order`` space, -1 for a tree root) and ``size`` (subtree sizes, by position).
    """
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components, depth_first_order, minimum_spanning_tree

    rng = np.random.default_rng(seed)
    w = np.sqrt(((x[a] - x[b]) ** 2).sum(axis=1))
    # Exact ties are broken by a seeded perturbation far below the data's resolution; the
    # offset keeps zero-dissimilarity edges (identical LSOAs) from vanishing from the sparse graph.
    w = w + 1e-9 + rng.random(len(w)) * 1e-12
    graph = coo_matrix((w, (a, b)), shape=(n, n)).tocsr()
    tree = minimum_spanning_tree(graph)
    _, comp = connected_components(tree, directed=False)
    _, roots = np.unique(comp, return_index=True)
    # A virtual super-root (node n) joined to one node of every tree gives one DFS for the forest.
    t = tree.tocoo()
    rows = np.concatenate([t.row, np.full(len(roots), n)])
    cols = np.concatenate([t.col, roots])
    forest = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n + 1, n + 1)).tocsr()
    order, pred = depth_first_order(forest, n, directed=False, return_predecessors=True)
    order = order[1:]
    pos = np.empty(n + 1, dtype=np.int64)
    pos[order] = np.arange(n)
    parent_node = pred[order]
    parent = np.where(parent_node == n, -1, pos[np.where(parent_node < 0, n, parent_node)])
    size = np.ones(n, dtype=np.int64)
    par = parent.tolist()
    sz = size.tolist()
    for i in range(n - 1, -1, -1):  # children follow parents in preorder: one reverse sweep
        p = par[i]
        if p >= 0:
            sz[p] += sz[i]
    return order, parent, np.asarray(sz, dtype=np.int64)


def regionalise(
    x: np.ndarray,
    population: np.ndarray,
    a: np.ndarray,
    b: np.ndarray,
    groups: np.ndarray,
    *,
    max_population: float,
    min_population: float,
    seed: int = 0,
) -> np.ndarray:
    """Partition nodes into contiguous, group-nested regions within population bounds.

    Parameters
    ----------
    x
        ``(n, k)`` standardised variables.
    population
        ``(n,)`` positive weights :math:`w_i`.
    a, b
        Integer node indices of the contiguity links (any order; duplicates allowed).
    groups
        ``(n,)`` integer group of each node (LAD); regions never cross groups and links
        between groups are ignored.
    max_population, min_population
        Bounds :math:`U` and :math:`L` on a region's population.
    seed
        Breaks exact ties between edge dissimilarities; same seed, same result.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` region label of each node, ``0..R-1``, numbered in order of first node.

    Notes
    -----
    Heuristic for the problem stated in :mod:`neighbourhood_lens.neighbourhoods.build`:

    1. minimum spanning forest of the within-group contiguity graph, edge weight
       :math:`\\lVert x_i - x_j \\rVert` (SKATER, Assunção et al. 2006) — one tree per
       connected part of each group;
    2. top-down: while a region's population exceeds :math:`U` and it has two or more
       nodes, remove the tree edge that maximises the fall in SSD among the edges that leave
       both parts with at least :math:`L` people (if none does, the most balanced cut); each
       part stays a subtree, hence contiguous. Subtree sums of :math:`w`, :math:`wx` and
       :math:`w\\lVert x\\rVert^2` are kept per node, so evaluating all cuts of a region is
       one vectorised step;
    3. regions below :math:`L` are merged, smallest first, into the adjacent region of the
       same group (over any contiguity link) with the nearest weighted mean, if the merged
       population stays within :math:`U`.

    References
    ----------
    Assunção, R. M., Neves, M. C., Câmara, G. and da Costa Freitas, C. (2006). Efficient
    regionalization techniques for socio-economic geographical units using minimum spanning
    trees. *International Journal of Geographical Information Science* 20(7), 797-811.
    """
    x = np.asarray(x, dtype=float)
    if x.ndim == 1:
        x = x[:, None]
    w = np.asarray(population, dtype=float)
    g = np.asarray(groups)
    n = len(w)
    a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
    keep = (g[a] == g[b]) & (a != b)
    a, b = a[keep], b[keep]
    order, parent, size = _spanning_forest(x, a, b, n, seed)

    # Node statistics in preorder position space; subtree sums are contiguous ranges.
    wp = w[order]
    stats = np.column_stack([wp, wp[:, None] * x[order], wp * (x[order] ** 2).sum(axis=1)])
    csum = np.vstack([np.zeros(stats.shape[1]), np.cumsum(stats, axis=0)])
    idx = np.arange(n)
    agg = csum[idx + size] - csum[idx]  # columns: pop, sum wx (k), sum w|x|^2

    label = np.full(n, -1, dtype=np.int64)
    roots = np.flatnonzero(parent < 0)
    for r, root in enumerate(roots.tolist()):
        label[root:root + size[root]] = r
    region_root = roots.tolist()
    region_span = [(int(rt), int(rt + size[rt])) for rt in roots]
    todo = [r for r, rt in enumerate(region_root) if agg[rt, 0] > max_population and size[rt] > 1]
    while todo:
        r = todo.pop()
        lo, hi = region_span[r]
        rt = region_root[r]
        members = lo + np.flatnonzero(label[lo:hi] == r)
        cand = members[members != rt]
        if len(cand) == 0:
            continue
        p1 = agg[cand, 0]
        p2 = agg[rt, 0] - p1
        sub = agg[cand]
        rest = agg[rt] - sub
        gain = (ssd(agg[rt, 0], agg[rt, 1:-1], agg[rt, -1])
                - ssd(p1, sub[:, 1:-1], sub[:, -1]) - ssd(p2, rest[:, 1:-1], rest[:, -1]))
        ok = (p1 >= min_population) & (p2 >= min_population)
        c = int(cand[np.argmax(np.where(ok, gain, -np.inf))]) if ok.any() else int(cand[np.argmax(np.minimum(p1, p2))])
        new = len(region_root)
        seg = label[c:c + size[c]]  # a view: c's subtree in preorder
        seg[seg == r] = new
        # Ancestors of c still in region r lose c's subtree from their sums.
        anc = lo + np.flatnonzero((label[lo:c] == r) & (idx[lo:c] + size[lo:c] > c))
        agg[anc] -= agg[c]
        region_root.append(c)
        region_span.append((c, c + int(size[c])))
        for q, q_root in ((r, rt), (new, c)):
            if agg[q_root, 0] > max_population and (label[region_span[q][0]:region_span[q][1]] == q).sum() > 1:
                todo.append(q)

    out = np.empty(n, dtype=np.int64)
    out[order] = label
    out = _merge_small(out, x, w, a, b, max_population=max_population, min_population=min_population)
    _, first = np.unique(out, return_index=True)
    renumber = np.empty(out.max() + 1, dtype=np.int64)
    renumber[out[np.sort(first)]] = np.arange(len(first))
    return renumber[out]


def _merge_small(
    label: np.ndarray, x: np.ndarray, w: np.ndarray, a: np.ndarray, b: np.ndarray,
    *, max_population: float, min_population: float,
) -> np.ndarray:
    """Merge regions below ``min_population`` into their most similar neighbour (see step 3)."""
    m = int(label.max()) + 1
    pop = np.bincount(label, weights=w, minlength=m)
    small = np.flatnonzero(pop < min_population)
    if len(small) == 0:
        return label
    sx = np.zeros((m, x.shape[1]))
    np.add.at(sx, label, w[:, None] * x)
    la, lb = label[a], label[b]
    cross = la != lb
    pairs = np.unique(np.sort(np.column_stack([la[cross], lb[cross]]), axis=1), axis=0)
    nbrs: dict[int, set[int]] = {}
    for u, v in pairs.tolist():
        nbrs.setdefault(u, set()).add(v)
        nbrs.setdefault(v, set()).add(u)
    alias = np.arange(m)
    heap = [(float(pop[s]), int(s)) for s in small]
    heapq.heapify(heap)
    while heap:
        p, s = heapq.heappop(heap)
        if alias[s] != s or p != pop[s] or pop[s] >= min_population:
            continue
        options = [t for t in sorted(nbrs.get(s, ())) if pop[s] + pop[t] <= max_population]
        if not options:
            continue
        opts = np.asarray(options)
        dist = ((sx[opts] / pop[opts, None] - sx[s] / pop[s]) ** 2).sum(axis=1)
        t = int(opts[np.argmin(dist)])
        alias[s] = t  # s joins t
        pop[t] += pop[s]
        sx[t] += sx[s]
        for v in nbrs.pop(s, set()):
            nbrs[v].discard(s)
            if v != t:
                nbrs[v].add(t)
                nbrs.setdefault(t, set()).add(v)
        if pop[t] < min_population:
            heapq.heappush(heap, (float(pop[t]), t))
    # Resolve chains of merges (s -> t -> u).
    while True:
        nxt = alias[alias]
        if np.array_equal(nxt, alias):
            break
        alias = nxt
    return alias[label]
