#!/usr/bin/python3
# Generates the id_map.pkl fixtures the gallery tests read: dicts from numpy
# int64 ids (as PaddleClas' build_gallery.py stores them) or plain ints to
# "path<TAB>label" doc lines, in pickle protocols 2 to 5.
# Run with Debian's python3 (numpy 1.x): /usr/bin/python3 gen_idmap.py
import pickle
import numpy as np

docs = {
    0: "gallery/0.jpg\t红牛-强化型",
    1: "gallery/1.jpg\tcola",
    7: "a b/c.jpg\tlabel with spaces",
    300: "x.jpg\tmilk",
    70000: "y.jpg\t光明",
    2**40: "z.jpg\tbig",
}
np_keys = {np.int64(k): v for k, v in docs.items()}
for proto in (2, 3, 4, 5):
    with open(f"id_map_np_p{proto}.pkl", "wb") as f:
        pickle.dump(np_keys, f, protocol=proto)
with open("id_map_int_p4.pkl", "wb") as f:
    pickle.dump(docs, f, protocol=4)
# A NumPy-2-style module path is simulated by rewriting the module name
# (its SHORT_BINUNICODE length byte, and the FRAME length).
import struct
data = pickle.dumps(np_keys, protocol=4)
old, new = b"\x8c\x15numpy.core.multiarray", b"\x8c\x16numpy._core.multiarray"
assert data.count(old) == 1 and data[2] == 0x95
data = data.replace(old, new)
data = data[:3] + struct.pack("<Q", struct.unpack("<Q", data[3:11])[0] + 1) + data[11:]
assert pickle.loads(data.replace(new, old).replace(data[3:11], struct.pack("<Q", struct.unpack("<Q", data[3:11])[0] - 1))) == np_keys
with open("id_map_np2_p4.pkl", "wb") as f:
    f.write(data)
