"""The evaluation report: one document model rendered as Markdown, self-contained HTML and JSON.

``write_report`` writes into one directory::

    report.md      Markdown; figures referenced by relative path
    report.html    the same, with the figures inlined (base64), so the file can be mailed or attached alone
    report.json    every number of the report for machines (schema "threadguard-evaluation/1")
    *.png          figures (plots.py)
"""

from __future__ import annotations

import base64
import html
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from threadguard import code_version
from threadguard.bundle import utc_now_iso
from training.bias import AUC_METRICS
from training.bias.templates import display_path
from training.report.plots import write_plots

if TYPE_CHECKING:
    from training.promote import GateResult
    from training.report.evaluation import BundleEvaluation, EvaluationData

SCHEMA = "threadguard-evaluation/1"


# ------------------------------------------------------------------------------------------------ JSON
def _delta(new: Any, old: Any) -> float | None:
    if isinstance(new, int | float) and isinstance(old, int | float):
        return round(float(new) - float(old), 4)
    return None


def _round(value: Any, digits: int = 4) -> Any:
    if isinstance(value, float):
        return round(value, digits)
    if isinstance(value, dict):
        return {k: _round(v, digits) for k, v in value.items()}
    if isinstance(value, list):
        return [_round(v, digits) for v in value]
    return value


def build_report(
    data: EvaluationData,
    candidate: BundleEvaluation,
    baseline: BundleEvaluation | None = None,
    *,
    gate: GateResult | None = None,
    figures: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Everything the report shows, JSON-serialisable."""
    models = {"candidate": candidate} | ({"baseline": baseline} if baseline is not None else {})
    labels = [label for label in candidate.labels if label in candidate.calibration]
    comparison: dict[str, Any] = {}
    for label in labels:
        new = candidate.metrics["pooled"].get(label, {})
        entry: dict[str, Any] = {"n": new.get("n"), "positives": new.get("positives"),
                                 "candidate_roc_auc": _round(candidate.roc_auc.get(label)),
                                 "candidate_pr_auc": new.get("pr_auc")}
        if baseline is not None:
            old = baseline.metrics["pooled"].get(label, {})
            entry |= {
                "baseline_roc_auc": _round(baseline.roc_auc.get(label)),
                "baseline_pr_auc": old.get("pr_auc"),
                "roc_auc_delta": _delta(candidate.roc_auc.get(label), baseline.roc_auc.get(label)),
                "pr_auc_delta": _delta(new.get("pr_auc"), old.get("pr_auc")),
            }
        comparison[label] = entry
    per_source = []
    for source in sorted(candidate.metrics["per_source"]):
        for label in labels:
            new = candidate.metrics["per_source"][source].get(label)
            if new is None:
                continue
            row = {"source": source, "label": label, "n": new["n"], "positives": new["positives"],
                   "candidate_roc_auc": new["roc_auc"]}
            if baseline is not None:
                old = baseline.metrics["per_source"].get(source, {}).get(label, {})
                row |= {"baseline_roc_auc": old.get("roc_auc"),
                        "roc_auc_delta": _delta(new["roc_auc"], old.get("roc_auc"))}
            per_source.append(row)
    bias_templates = next((ev.bias["templates"] for ev in models.values() if ev.bias), None)
    return {
        "schema": SCHEMA,
        "generated_at": utc_now_iso(),
        "code_version": code_version(),
        "data": data.describe(),
        "models": {role: ev.describe() for role, ev in models.items()},
        "labels": labels,
        "comparison": comparison,
        "metrics": {role: ev.metrics for role, ev in models.items()},
        "per_source": per_source,
        "thresholds": {role: {label: ev.operating_points.get(label) for label in ev.labels}
                       for role, ev in models.items()},
        "calibration": {role: ev.calibration for role, ev in models.items()},
        "latency": {role: ev.latency for role, ev in models.items()},
        "bias": {"templates": bias_templates,
                 **{role: _round(ev.bias["labels"]) if ev.bias else None for role, ev in models.items()}},
        "gate": gate.to_dict() if gate is not None else None,
        "figures": figures or {},
    }


# ------------------------------------------------------------------------------------------ document model
@dataclass(frozen=True)
class Block:
    kind: str  # "h2", "h3", "p", "table", "img", "list"
    text: str = ""
    header: tuple[str, ...] = ()
    rows: tuple[tuple[str, ...], ...] = ()
    items: tuple[str, ...] = ()


def _f(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _signed(value: Any, digits: int = 4) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.1f}%"


def document(report: dict[str, Any]) -> tuple[str, list[Block]]:
    models = report["models"]
    candidate = models["candidate"]
    baseline = models.get("baseline")
    has_baseline = baseline is not None
    title = f"Evaluation: {candidate['name']} {candidate['version']}"
    if has_baseline:
        title += f" against {baseline['version']}"
    data = report["data"]
    blocks: list[Block] = []
    blocks.append(Block("p", text=(
        f"Scored with each bundle's `model.onnx` (onnxruntime) on the **{data['split']}** split of "
        f"`{data['config']}` ({data['rows']:,} rows from {len(data['rows_per_source'])} sources), generated "
        f"{report['generated_at']} by threadguard {report['code_version']}.")))
    rows: list[tuple[str, ...]] = [
        ("candidate", candidate["version"], candidate["created_at"], candidate["onnx_sha256"][:12])]
    if has_baseline:
        rows.append(("baseline", baseline["version"], baseline["created_at"], baseline["onnx_sha256"][:12]))
    blocks.append(Block("table", header=("role", "version", "created", "onnx sha256"), rows=tuple(rows)))
    gate = report.get("gate")
    if gate is not None:
        verdict = "**passes**" if gate["passed"] else "**fails**"
        blocks.append(Block("p", text=f"Promotion gate: the candidate {verdict} "
                                      f"({len(gate['checks'])} checks; details in the last section)."))

    blocks.append(Block("h2", text="Validation ROC-AUC and PR-AUC per label"))
    header: tuple[str, ...] = ("label", "n", "positives", "ROC-AUC", "PR-AUC")
    if has_baseline:
        header = ("label", "n", "positives", "baseline ROC-AUC", "candidate ROC-AUC", "Δ",
                  "baseline PR-AUC", "candidate PR-AUC", "Δ")
    rows = []
    for label, c in report["comparison"].items():
        if has_baseline:
            rows.append((label, _f(c["n"]), _f(c["positives"]), _f(c["baseline_roc_auc"]), _f(c["candidate_roc_auc"]),
                         _signed(c["roc_auc_delta"]), _f(c["baseline_pr_auc"]), _f(c["candidate_pr_auc"]),
                         _signed(c["pr_auc_delta"])))
        else:
            rows.append((label, _f(c["n"]), _f(c["positives"]), _f(c["candidate_roc_auc"]), _f(c["candidate_pr_auc"])))
    blocks.append(Block("table", header=header, rows=tuple(rows)))
    overview = report["figures"].get("overview", {})
    for kind, alt in (("roc", "ROC curves per label"), ("pr", "Precision-recall curves per label")):
        if kind in overview:
            blocks.append(Block("img", text=alt, items=(overview[kind],)))
    per_label = [f"{label}: [ROC]({report['figures']['roc'][label]}), [PR]({report['figures']['pr'][label]})"
                 for label in report["labels"] if label in report["figures"].get("roc", {})]
    if per_label:
        blocks.append(Block("p", text="One figure per label: " + "; ".join(per_label) + "."))

    blocks.append(Block("h2", text="Thresholds and operating points"))
    blocks.append(Block("p", text=(
        "Each model's own thresholds from its manifest, applied to these rows: precision, recall and the share "
        "of rows flagged at the review and the block threshold (– : the label never blocks on its own).")))
    rows = []
    for role in ("baseline", "candidate"):
        for label, op in report["thresholds"].get(role, {}).items():
            if op is None:
                continue
            review, block = op.get("review") or {}, op.get("block") or {}
            rows.append((label, role, _f(review.get("threshold")), _f(review.get("precision"), 3),
                         _f(review.get("recall"), 3), _pct(review.get("flagged_share")), _f(block.get("threshold")),
                         _f(block.get("precision"), 3), _f(block.get("recall"), 3)))
    rows.sort(key=lambda r: (report["labels"].index(r[0]) if r[0] in report["labels"] else 99, r[1]))
    blocks.append(Block("table", header=("label", "model", "review ≥", "precision", "recall", "flagged",
                                         "block ≥", "precision", "recall"), rows=tuple(rows)))

    blocks.append(Block("h2", text="ROC-AUC per source"))
    header = ("source", "label", "n", "positives", "baseline", "candidate", "Δ") if has_baseline else \
        ("source", "label", "n", "positives", "ROC-AUC")
    rows = []
    for r in report["per_source"]:
        if has_baseline:
            rows.append((r["source"], r["label"], _f(r["n"]), _f(r["positives"]), _f(r.get("baseline_roc_auc")),
                         _f(r["candidate_roc_auc"]), _signed(r.get("roc_auc_delta"))))
        else:
            rows.append((r["source"], r["label"], _f(r["n"]), _f(r["positives"]), _f(r["candidate_roc_auc"])))
    blocks.append(Block("table", header=header, rows=tuple(rows)))
    blocks.append(Block("p", text="– : fewer than 5 positives or negatives of that label in that source."))

    blocks.append(Block("h2", text="Calibration"))
    blocks.append(Block("p", text=(
        "Reliability: mean score against the observed positive rate in 10 equal-width score bins; ECE is the "
        "row-weighted mean gap. A calibrated model lies on the diagonal.")))
    rows = []
    for label in report["labels"]:
        row = [label]
        for role in ("baseline", "candidate") if has_baseline else ("candidate",):
            row.append(_f((report["calibration"][role].get(label) or {}).get("ece")))
        rows.append(tuple(row))
    blocks.append(Block("table", header=("label", "baseline ECE", "candidate ECE") if has_baseline
                        else ("label", "ECE"), rows=tuple(rows)))
    if "calibration" in overview:
        blocks.append(Block("img", text="Calibration reliability diagram", items=(overview["calibration"],)))
    blocks.append(Block("h2", text="Score histograms"))
    if "histograms" in overview:
        blocks.append(Block("img", text="Score histograms, positives vs negatives", items=(overview["histograms"],)))

    blocks.extend(_bias_blocks(report, has_baseline))

    blocks.append(Block("h2", text="Latency"))
    blocks.append(Block("p", text="onnxruntime, one thread, on the machine that wrote this report; median of "
                                  "repeated runs over validation texts."))
    rows = []
    for role in ("baseline", "candidate"):
        lat = report["latency"].get(role)
        if lat:
            rows.append((role, _f(lat.get("single_ms_p50"), 3), _f(lat.get("batch100_ms_p50"), 2),
                         _f(lat.get("batch100_comments_per_s"))))
    if rows:
        blocks.append(Block("table", header=("model", "1 comment, ms", "batch of 100, ms", "comments/s"),
                            rows=tuple(rows)))
    else:
        blocks.append(Block("p", text="Not measured."))

    if gate is not None:
        blocks.append(Block("h2", text="Promotion gate"))
        cfg = gate["config"]
        blocks.append(Block("p", text=(
            f"`threadguard promote` {'would accept' if gate['passed'] else 'refuses'} this candidate against "
            f"{gate['baseline']} (tolerances from `{display_path(cfg.get('source'))}`: ROC-AUC may drop at most "
            f"{cfg['max_auc_drop']} per label; bias AUC means {cfg['max_mean_auc_drop']}, worst term "
            f"{cfg['max_worst_term_auc_drop']}; FPR mean +{cfg['max_mean_fpr_increase']}, worst term "
            f"+{cfg['max_worst_term_fpr_increase']}).")))
        checks = tuple(("ok" if c["passed"] else "**FAIL**", c["detail"]) for c in gate["checks"])
        blocks.append(Block("table", header=("result", "check"), rows=checks))
        if gate.get("notes"):
            blocks.append(Block("list", items=tuple(gate["notes"])))
    return title, blocks


def _bias_blocks(report: dict[str, Any], has_baseline: bool) -> list[Block]:
    bias = report.get("bias") or {}
    templates = bias.get("templates")
    candidate = bias.get("candidate")
    if not templates or not candidate:
        return []
    baseline = bias.get("baseline") if has_baseline else None
    blocks = [Block("h2", text="Bias on identity terms"), Block("p", text=(
        f"Template set `{templates['path']}` (sha256 {templates['sha256'][:12]}): {templates['templates']} "
        f"templates × {templates['terms']} identity terms × {templates['toxic_fillers']} toxic and "
        f"{templates['non_toxic_fillers']} non-toxic fillers = {templates['sentences']:,} sentences (Dixon et al. "
        f"2018). Per term (Borkan et al. 2019): subgroup AUC (sentences about the term), BPSN AUC (non-toxic "
        f"about the term vs toxic about the other terms; low = false positives on the identity), BNSP AUC (toxic "
        f"about the term vs non-toxic about the others; low = missed abuse), and FPR: share of non-toxic "
        f"sentences about the term at or above the label's review threshold. Generalised mean: power mean with "
        f"p = -5 over terms."))]
    for label, entry in candidate.items():
        old = (baseline or {}).get(label)
        blocks.append(Block("h3", text=f"{label} (candidate review threshold {_f(entry['review_threshold'])})"))
        rows: list[tuple[str, ...]] = []
        for metric in (*AUC_METRICS, "fpr"):
            stats = ("mean", "min", "power_mean") if metric != "fpr" else ("mean", "max")
            for stat in stats:
                new_value = entry["summary"][metric][stat]
                old_value = old["summary"][metric][stat] if old else None
                worst = entry["summary"][metric].get("min_term" if stat == "min" else "max_term" if stat == "max"
                                                     else "", "")
                name = f"{metric} {stat}" + (f" ({worst})" if worst else "")
                rows.append((name, _f(old_value), _f(new_value), _signed(_delta(new_value, old_value)))
                            if has_baseline else (name, _f(new_value)))
        header = ("metric over terms", "baseline", "candidate", "Δ") if has_baseline else ("metric over terms", "value")
        blocks.append(Block("table", header=header, rows=tuple(rows)))
        term_rows = []
        for term, m in sorted(entry["per_term"].items(), key=lambda kv: (kv[1]["bpsn_auc"] or 0)):
            b = (old or {}).get("per_term", {}).get(term) if old else None
            def cell(metric: str, m: dict[str, Any] = m, b: dict[str, Any] | None = b) -> str:
                digits = 3
                text = _f(m[metric], digits)
                return f"{text} ({_f(b[metric], digits)})" if b is not None else text
            term_rows.append((term, cell("subgroup_auc"), cell("bpsn_auc"), cell("bnsp_auc"), cell("fpr")))
        blocks.append(Block("p", text="Per term, worst BPSN first" + (" (baseline in brackets)" if old else "")
                                      + ":"))
        blocks.append(Block("table", header=("term", "subgroup AUC", "BPSN AUC", "BNSP AUC", "FPR"),
                            rows=tuple(term_rows)))
    return blocks


# ------------------------------------------------------------------------------------------ renderers
def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(title: str, blocks: list[Block]) -> str:
    out = [f"# {title}", ""]
    for block in blocks:
        if block.kind in ("h2", "h3"):
            out += [("## " if block.kind == "h2" else "### ") + block.text, ""]
        elif block.kind == "p":
            out += [block.text, ""]
        elif block.kind == "list":
            out += [f"- {item}" for item in block.items] + [""]
        elif block.kind == "img":
            out += [f"![{block.text}]({block.items[0]})", ""]
        elif block.kind == "table":
            out.append("| " + " | ".join(_md_cell(h) for h in block.header) + " |")
            out.append("|" + "".join(" ---: |" if _numeric_column(block, i) else " --- |"
                                     for i in range(len(block.header))))
            out += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in block.rows]
            out.append("")
    return "\n".join(out)


_NUMERIC = re.compile(r"^[-+–]?[\d.,]*%?( \(.*\))?$")


def _numeric_column(block: Block, index: int) -> bool:
    return index > 0 and all(_NUMERIC.match(row[index]) for row in block.rows)


_INLINE = re.compile(r"`([^`]+)`|\*\*([^*]+)\*\*|\[([^\]]+)\]\(([^)\s]+)\)")


def _inline_html(text: str) -> str:
    out, last = [], 0
    for match in _INLINE.finditer(text):
        out.append(html.escape(text[last:match.start()]))
        code, strong, link_text, href = match.groups()
        if code is not None:
            out.append(f"<code>{html.escape(code)}</code>")
        elif strong is not None:
            out.append(f"<strong>{html.escape(strong)}</strong>")
        else:
            out.append(f'<a href="{html.escape(href, quote=True)}">{html.escape(link_text)}</a>')
        last = match.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1180px;margin:2em auto;padding:0 1em;
color:#222}
h1{font-size:1.6em}h2{margin-top:1.8em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0 1em;font-size:13px}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:right}th:first-child,td:first-child,td.text{text-align:left}
th{background:#f4f4f4}code{background:#f4f4f4;padding:0 3px;border-radius:3px}
img{max-width:100%;border:1px solid #eee;margin:.4em 0}
"""


def to_html(title: str, blocks: list[Block], image_dir: Path) -> str:
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>{html.escape(title)}</title><style>{CSS}</style></head><body>",
             f"<h1>{html.escape(title)}</h1>"]
    for block in blocks:
        if block.kind in ("h2", "h3"):
            parts.append(f"<{block.kind}>{html.escape(block.text)}</{block.kind}>")
        elif block.kind == "p":
            parts.append(f"<p>{_inline_html(block.text)}</p>")
        elif block.kind == "list":
            parts.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items) + "</ul>")
        elif block.kind == "img":
            payload = base64.b64encode((image_dir / block.items[0]).read_bytes()).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(block.text, quote=True)}" '
                         f'src="data:image/png;base64,{payload}"><figcaption>{html.escape(block.text)}'
                         f"</figcaption></figure>")
        elif block.kind == "table":
            head = "".join(f"<th>{html.escape(h)}</th>" for h in block.header)
            align = ["" if _numeric_column(block, i) else ' class="text"' for i in range(len(block.header))]
            body = "".join("<tr>" + "".join(f"<td{align[i]}>{_inline_html(c)}</td>" for i, c in enumerate(row))
                           + "</tr>" for row in block.rows)
            parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_report(
    out_dir: str | Path,
    data: EvaluationData,
    candidate: BundleEvaluation,
    baseline: BundleEvaluation | None = None,
    *,
    gate: GateResult | None = None,
    plots: bool = True,
) -> dict[str, Any]:
    """Write report.md, report.html, report.json and the figures into ``out_dir``; returns the JSON dict."""
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    figures = write_plots(directory, data, candidate, baseline) if plots else {}
    report = build_report(data, candidate, baseline, gate=gate, figures=figures)
    title, blocks = document(report)
    (directory / "report.json").write_text(json.dumps(report, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    (directory / "report.md").write_text(to_markdown(title, blocks), encoding="utf-8")
    (directory / "report.html").write_text(to_html(title, blocks, directory), encoding="utf-8")
    return report
