#!/usr/bin/python3
# Peer of gallery/faiss_peer_test.go: python3-faiss (Debian) on both sides
# of a PaddleClas index_dir (ppshitu-pipeline.md §11.4, §11.6).
#
#   faiss_peer.py make DIR
#       Seeded random unit vectors and queries, then index_dirs as
#       build_gallery.py writes them (faiss.index_factory wrapped in
#       IndexIDMap2, ids 0..N-1, id_map.pkl {numpy.int64: "path<TAB>label"})
#       for HNSW32 (efSearch 16 as PaddleClas leaves it, and 48), IVF16,Flat
#       (nprobe 4), IVF250,Flat (nprobe 1, PaddleClas' N/8 lists) and
#       Flat, and faiss' own top-K for every query, also after removing ids
#       where faiss can remove (Flat, IVF); and the HNSW32 index as PaddleX
#       saves it (id_map.yaml).
#   faiss_peer.py search QUERIES K INDEX_DIR OUT [INDEX_DIR OUT ...]
#       Loads each index_dir as predict_system.py does (faiss.read_index +
#       pickle, ntotal == len(id_map)), searches QUERIES with the
#       parameters stored in the file and writes OUT.ids / OUT.scores.
#
# Files are raw little-endian arrays: *.f32 float32, *.ids int64 (nq×K),
# *.scores float32 (nq×K); DIR/meta.json gives the sizes.
import json, os, pickle, sys
import faiss
import numpy as np

N, D, NQ, K = 2000, 512, 300, 5
REMOVED = 100  # ids removed for the "after remove" expectations


def unit(x):
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype("<f4")


def label(i):
    # Labels with a space: the id map keeps "path<TAB>label" lines whose
    # label predict_system.py would cut at the space (§7.2).
    return f"品牌 {i % 97}"


def save_dir(path, index, id_map):
    os.makedirs(path, exist_ok=True)
    faiss.write_index(index, os.path.join(path, "vector.index"))
    with open(os.path.join(path, "id_map.pkl"), "wb") as f:
        pickle.dump(id_map, f)


def write_result(prefix, scores, ids):
    ids.astype("<i8").tofile(prefix + ".ids")
    scores.astype("<f4").tofile(prefix + ".scores")


def make(out):
    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(20261203)
    base = unit(rng.standard_normal((N, D)))
    queries = unit(rng.standard_normal((NQ, D)))
    os.makedirs(out, exist_ok=True)
    base.tofile(os.path.join(out, "base.f32"))
    queries.tofile(os.path.join(out, "queries.f32"))
    ids = np.arange(N, dtype=np.int64)
    id_map = {np.int64(i): f"gallery/{i // 100}/{i}.jpg\t{label(i)}" for i in range(N)}
    removed = np.sort(rng.choice(N, REMOVED, replace=False)).astype(np.int64)
    removed.astype("<i8").tofile(os.path.join(out, "removed.ids"))
    cases = {}

    def case(name, index, removable=False):
        save_dir(os.path.join(out, name), index, id_map)
        s, i = index.search(queries, K)
        write_result(os.path.join(out, name), s, i)
        cases[name] = {"removed": removable}

    hnsw = faiss.IndexIDMap2(faiss.index_factory(D, "HNSW32", faiss.METRIC_INNER_PRODUCT))
    hnsw.train(base)
    hnsw.add_with_ids(base, ids)
    case("hnsw32", hnsw)
    # The same index as PaddleX's IndexData.save writes it: id_map.yaml
    # {id: label} beside vector.index (§17).
    px = os.path.join(out, "paddlex_hnsw32")
    os.makedirs(px, exist_ok=True)
    faiss.write_index(hnsw, os.path.join(px, "vector.index"))
    with open(os.path.join(px, "id_map.yaml"), "w", encoding="utf-8") as f:
        f.write("id_map:\n")
        for i in range(N):
            f.write(f"  {i}: {label(i)}\n")
        f.write("index_type: HNSW32\nmetric_type: IP\n")
    s, i = hnsw.search(queries, K)
    write_result(px, s, i)
    cases["paddlex_hnsw32"] = {"removed": False}
    faiss.downcast_index(hnsw.index).hnsw.efSearch = 48
    case("hnsw32_ef48", hnsw)

    # IVF16 with nprobe 4, and IVF250 with nprobe 1 (lists of ~8 vectors,
    # as PaddleClas' N/8 lists make them; k-means kept short).
    for name, nlist, nprobe in (("ivf16", 16, 4), ("ivf250", 250, 1)):
        ivf = faiss.IndexIDMap2(faiss.index_factory(D, f"IVF{nlist},Flat", faiss.METRIC_INNER_PRODUCT))
        inner = faiss.downcast_index(ivf.index)
        inner.cp.niter = 6
        ivf.train(base)
        ivf.add_with_ids(base, ids)
        inner.nprobe = nprobe
        case(name, ivf, removable=True)
        # IndexIDMap2.remove_ids over an IVF leaves the IVF's internal ids
        # stale, so remove from a copy of the bare IVF, whose ids are
        # 0..N-1 = ours.
        bare = faiss.clone_index(inner)
        bare.remove_ids(removed)
        s, i = bare.search(queries, K)
        write_result(os.path.join(out, name + ".removed"), s, i)

    flat = faiss.IndexIDMap2(faiss.index_factory(D, "Flat", faiss.METRIC_INNER_PRODUCT))
    flat.add_with_ids(base, ids)
    case("flat", flat, removable=True)
    flat.remove_ids(removed)
    s, i = flat.search(queries, K)
    write_result(os.path.join(out, "flat.removed"), s, i)

    with open(os.path.join(out, "meta.json"), "w") as f:
        json.dump({"n": N, "d": D, "nq": NQ, "k": K, "removed": REMOVED, "cases": cases}, f)


def search(queries_path, k, pairs):
    faiss.omp_set_num_threads(1)
    q = None
    for index_dir, out in pairs:
        index = faiss.read_index(os.path.join(index_dir, "vector.index"))
        with open(os.path.join(index_dir, "id_map.pkl"), "rb") as f:
            id_map = pickle.load(f)
        if index.ntotal != len(id_map):
            sys.exit(f"{index_dir}: data number in index ({index.ntotal}) is not equal in id_map ({len(id_map)})")
        if q is None:
            q = np.fromfile(queries_path, dtype="<f4").reshape(-1, index.d)
        s, i = index.search(q, k)
        for row in i:
            for x in row:
                if x >= 0 and np.int64(x) not in id_map:
                    sys.exit(f"{index_dir}: id {x} has no id_map entry")
        write_result(out, s, i)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
    elif len(sys.argv) >= 6 and sys.argv[1] == "search" and len(sys.argv) % 2 == 0:
        a = sys.argv[4:]
        search(sys.argv[2], int(sys.argv[3]), list(zip(a[::2], a[1::2])))
    else:
        sys.exit("usage: faiss_peer.py make DIR | search QUERIES K INDEX_DIR OUT [INDEX_DIR OUT ...]")
