"""The safetensors writer of scripts/adversarial.sh (sections 50–52 and on): a section's python3
heredoc imports it (`from st_writer import safetensors`; the script's prologue puts scripts/ on
PYTHONPATH), so that each section also runs alone. Section 50 wrote it into the work folder and
section 51 imported it from there, so 51 could not run without 50 (adv65).

safetensors(path, tensors, meta) writes the format of the `safetensors` crate: an 8-byte
little-endian header length n, n bytes of JSON header, then the tensors' data. `tensors` maps a
name to (dtype, shape, values) with dtype "F64" or "I64" and values a flat list in row-major
order; the header names each tensor's dtype, shape and data_offsets [begin, end) into the data,
the tensors laid out in sorted name order, then "__metadata__": meta (a dict of strings); the
header is padded with spaces to a multiple of 8 bytes.

mlp(path, ws, bs, act) writes a corrflow-mlp network (sections 68, 69 and 71): weight matrices `ws`
(lists of rows), biases `bs` (a list each, or None for none), the layers named hidden1, hidden2,
… and readout, the widths and the activation `act` in the metadata.
"""
import json
import struct


def safetensors(path, tensors, meta):
    header, blob = {}, b""
    for k in sorted(tensors):
        dtype, shape, v = tensors[k]
        header[k] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + 8 * len(v)]}
        blob += struct.pack(f"<{len(v)}{'d' if dtype == 'F64' else 'q'}", *v)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + blob)


def mlp(path, ws, bs, act):
    t = {}
    for l, (w, b) in enumerate(zip(ws, bs)):
        k = f"hidden{l + 1}" if l < len(ws) - 1 else "readout"
        t[k + ".weight"] = ("F64", [len(w), len(w[0])], [v for r in w for v in r])
        if b is not None:
            t[k + ".bias"] = ("F64", [len(b)], b)
    widths = [len(ws[0][0])] + [len(w) for w in ws]
    safetensors(path, t, {"format": "corrflow-mlp", "widths": ",".join(map(str, widths)), "activation": act})
