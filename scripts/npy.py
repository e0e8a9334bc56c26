"""The .npy writer of scripts/adversarial.sh: every section's python3 heredoc imports it
(`from npy import npy`; the script's prologue puts scripts/ on PYTHONPATH). Also the sections'
reader of the JSON a run printed, load_json(d, name) (below).

npy(path, descr, shape, data) writes what NumPy's `np.save` writes (format 1.0): the magic
b"\\x93NUMPY", the version bytes, the header's length (2 bytes little-endian for version 1,
4 bytes from version 2 on), then the header text

    {'descr': '<f8', 'fortran_order': False, 'shape': (300, 4), }

padded with spaces and ended by "\\n" so that the data starts at a multiple of 64 bytes, then
`data` (bytes, already packed in the descr's byte order). The odd files the sections need:

    descr     a dtype string ('<f8', '>i4', '<f2', '|b1', '<c16', '|O', ...); one starting with
              "[" (a record dtype) goes in unquoted
    shape     a tuple: (n,) written "(n,)", () "()"; a string goes in as it is ("(200, -2)")
    fortran   fortran_order True (the data must then be column-major)
    version   the format's major version (1, 2, 3, or a bad one such as 9)
    wide      the header-length field 4 bytes wide (default: version != 1)
    header    a whole header text (str or bytes) instead of the dict above (bad keys, values)
    pad       False: no padding spaces before the "\\n"
    hlen      a header length to write instead of the true one (a header that lies)

Helpers: pack(fmt, values) packs a flat list ("<d", "<q", ">e", ...); f8(rows) and i8(labels)
the little-endian bytes of rows of floats and of labels; xy(d, name, x, y, width) the pair
d/name-x.npy (<f8, width columns, default the first row's) and d/name-y.npy (<i8);
blobs(rng, counts, dim, scale) Gaussian classes of counts[c] samples shifted by 1.5 per class;
into(d, suffix) npy() writing name + suffix into folder d.

From bash (no section needs it yet):

    python3 scripts/npy.py PATH DESCR SHAPE [--fortran] [--version N] VALUE...  values in argv
    seq 0 9 | python3 scripts/npy.py PATH '<i8' 10 -      whitespace-separated values on stdin
    python3 scripts/npy.py PATH '<f8' 3,4 --raw <bytes    the data as it is, from stdin

SHAPE is "300,4", "300" or "" (0-d); values are packed in DESCR's type (a float, integer or
bool type of 1, 2, 4 or 8 bytes, either byte order).
"""
import json
import struct
import sys


def header_text(descr, shape, fortran=False):
    """The header dict as NumPy writes it."""
    if not isinstance(shape, str):
        shape = "(%s,)" % shape[0] if len(shape) == 1 else "(%s)" % ", ".join(map(str, shape))
    descr = descr if descr.startswith("[") else "'%s'" % descr
    return "{'descr': %s, 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)


def npy(path, descr=None, shape=None, data=b"", fortran=False, version=1, wide=None, header=None, pad=True,
        hlen=None):
    """Writes a .npy file at path (see the module's text for each argument; with `header`, descr,
    shape and fortran are not used)."""
    h = header_text(descr, shape, fortran) if header is None else header
    h = h.encode() if isinstance(h, str) else h
    wide = version != 1 if wide is None else wide
    lead = 12 if wide else 10
    if pad:
        h += b" " * ((64 - (lead + len(h) + 1) % 64) % 64)
    h += b"\n"
    size = struct.pack("<I" if wide else "<H", len(h) if hlen is None else hlen)
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY" + bytes([version, 0]) + size + h + data)


def pack(fmt, values):
    """struct.pack of every value in one format: pack("<d", [1.0, 2.0])."""
    values = list(values)
    return struct.pack("%s%d%s" % (fmt[0], len(values), fmt[1:]), *values)


def f8(rows):
    return pack("<d", (v for r in rows for v in r))


def i8(labels):
    return pack("<q", labels)


def xy(d, name, x, y, width=None):
    npy(f"{d}/{name}-x.npy", "<f8", (len(x), width or len(x[0])), f8(x))
    npy(f"{d}/{name}-y.npy", "<i8", (len(y),), i8(y))


def blobs(rng, counts, dim=4, scale=1.0):
    y = [c for c, n in enumerate(counts) for _ in range(n)]
    return [[(rng.gauss(0, 1) + 1.5 * c) * scale for _ in range(dim)] for c in y], y


def into(d, suffix=""):
    """npy() with each path taken as a name in folder d, `suffix` appended: npy = into(d)."""
    return lambda name, *args, **kwargs: npy(f"{d}/{name}{suffix}", *args, **kwargs)


def load_json(d, name):
    """The JSON in d/name.json, or None where it holds none.

    A section copies each run's stdout there (`cp "$W/out" "$D/name.json"` after its `check`), so
    the file exists whether or not the run succeeded; a run that printed no JSON or a cut-off
    one (refused, killed, panicked) leaves text json.load refuses (ValueError, a bad encoding
    included). `check` has counted that run already, so its read-outs are skipped (None), not
    counted twice. A missing file is not caught: it means a section reads a name no run wrote
    (a typo), and the traceback fails the section's Python, which the section counts."""
    try:
        with open(f"{d}/{name}.json") as f:
            return json.load(f)
    except ValueError:
        return None


def main(argv):
    """The command line of the module's text (options anywhere; values may be negative)."""
    opts = {"--fortran": False, "--raw": False, "--version": 1}
    args = []
    while argv:
        arg = argv.pop(0)
        if arg == "--version" and argv:
            opts[arg] = int(argv.pop(0))
        elif arg in ("--fortran", "--raw"):
            opts[arg] = True
        else:
            args.append(arg)
    if len(args) < 3:
        sys.exit("usage: npy.py PATH DESCR SHAPE [--fortran] [--version N] [--raw | - | VALUE...]")
    path, descr, shape, values = args[0], args[1], args[2], args[3:]
    shape = tuple(int(n) for n in shape.split(",") if n.strip())
    if opts["--raw"]:
        data = sys.stdin.buffer.read()
    else:
        kind, size = descr[1:2], descr[2:]
        code = {("f", "2"): "e", ("f", "4"): "f", ("f", "8"): "d", ("b", "1"): "?",
                ("i", "1"): "b", ("i", "2"): "h", ("i", "4"): "i", ("i", "8"): "q",
                ("u", "1"): "B", ("u", "2"): "H", ("u", "4"): "I", ("u", "8"): "Q"}.get((kind, size))
        if code is None or descr[0] not in "<>|":
            sys.exit(f"npy.py: descr {descr!r}: no packing for it; give the data with --raw")
        text = sys.stdin.read().split() if values == ["-"] else values
        cast = float if kind == "f" else int
        data = pack(("<" if descr[0] == "|" else descr[0]) + code, [cast(v) for v in text])
    npy(path, descr, shape, data, fortran=opts["--fortran"], version=opts["--version"])


if __name__ == "__main__":
    main(sys.argv[1:])
