"""Theory accuracy / output covariance error / KL per start layer and order (issue #16; EXPERIMENTS.md,
"Orders 2, 3 and 4 through depth on four networks"), from `corrflow analyze --json --order 2|3|4
[--carry depth]` files PREFIX-o2.json, PREFIX-o3.json, PREFIX-o4.json:

    python3 benches/tools/orders_table.py PREFIX...
"""
import json, sys
def fmt(v, p=4):
    return "n/a" if v is None else f"{v:.{p}f}"
for prefix in sys.argv[1:]:
    runs = {}
    for o in (2, 3, 4):
        try:
            runs[o] = json.load(open(f"{prefix}-o{o}.json"))
        except (OSError, ValueError):
            pass
    d = runs[2]
    print(f"\n{prefix}: widths {d['widths']} {d['activation']}, network {d['network_accuracy']:.4f} ± {d['network_accuracy_stderr']:.4f}, wall s: " +
          ", ".join(f"o{o} {r['wall_seconds']:.1f}" for o, r in runs.items()))
    print("| start | " + " | ".join(f"order {o}" for o in runs) + " |")
    print("|---|" + "---|" * len(runs))
    nl = len(d['start_layers'])
    for l in range(nl):
        cells = []
        for o, r in runs.items():
            s = r['start_layers'][l]
            if o > 2:
                s = next((t for t in (r.get('carried_start_layers') or []) if t['start_layer'] == l), s)
            budget = next(e for e in r['error_budget'] if e['order'] == o)['by_start_layer'][l]
            cells.append(f"{s['accuracy']:.4f} ± {s['accuracy_stderr']:.4f} / {fmt(s['cov_rel_err'],3)} / {fmt(s['kl'],3)}")
        print(f"| {d['start_layers'][l]['start_stage']} | " + " | ".join(cells) + " |")
    for o, r in runs.items():
        if o == 2: continue
        for c in (r.get('carried') or []):
            fb = [(k['class'], k['fallback'][0]) for k in c['classes'] if k.get('fallback')]
            verdicts = {}
            for k in c['classes']:
                v = (k.get('pilot') or {}).get('verdict')
                verdicts[v] = verdicts.get(v, 0) + 1
            print(f"  order {o} from layer {c['from_layer']}: fallbacks (class, layer) {fb}; pilot {verdicts}")
