"""Hostile text through every output: labels, host names, CPU models and benchmark names made
of HTML, Markdown, newlines, carriage returns, backticks, pipes, ANSI and bidi controls, 10,000
characters long. A CommonMark renderer (markdown-it-py, raw HTML on, GFM tables) must find no
HTML element and no broken table; the HTML must hold no element we did not write; the terminal
must receive no control character; the PDF must render; a failed report must leave nothing."""

import datetime
import html.parser
import json
import shlex
import shutil
import subprocess

import numpy as np
import pytest
from markdown_it import MarkdownIt

from bench import cli, compare, text
from bench.compare import formats as compare_format
from bench.store import Store
from reports import render, write

PIECES = (
    "<script>alert(1)</script><img src=x onerror=alert(2)><b>bold</b><!-- c -->\n"
    "# heading\r\n| a | b |\n|---|---|\n`code` ``` ~~~ [link](http://x) *em* _u_ &amp; \\ "
    "\x1b[31mred\x1b[0m \x1b]8;;http://x\x07osc\x1b]8;;\x07 \u202eevil\u202c \u2066iso\u2069 "
    "\u200fRTL\u200e \x00\x08\x7f\u0085 $math$ "
)
HOSTILE = (PIECES * (10_000 // len(PIECES) + 1))[:10_000]
CONTROLS = ["\x1b", "\r", "\u202e", "\u2066", "\u200f", "\x00", "\x07", "\u0085", "\x7f"]
COST = """
[site]
currency = "CNY"
electricity_per_kwh = 1.0
pue = 1.5
[target]
decisions_per_s = 1000
[machine.a]
match = "A*"
price = 100000
power_w = 500
rack_units = 2
amortization_years = 5
maintenance_pct_per_year = 10
cores = 16
[machine.b]
match = "B*"
price = 90000
power_w = 450
rack_units = 2
amortization_years = 5
maintenance_pct_per_year = 10
cores = 16
"""


def _run(run_id: str, prefix: str) -> dict:
    fingerprint = {
        "arch": "x86_64",
        "hostname": prefix + HOSTILE,
        "cpu_model": HOSTILE,
        "physical_cores": 2,
        "logical_cpus": 2,
        "sockets": 1,
        "python": "3.11",
        "kernel": HOSTILE[:300],
    }
    now = datetime.datetime(2026, 11, 28, tzinfo=datetime.timezone.utc)
    return {
        "run_id": run_id,
        "label": prefix + HOSTILE,
        "status": "complete",
        "started_at": now,
        "finished_at": now,
        "profile": "standard",
        "command_line": "bankbench run --label " + HOSTILE[:500],
        "bankbench_version": "0.1.0",
        "git_commit": None,
        "emulated": False,
        "cpu_model": HOSTILE,
        "fingerprint_json": json.dumps(fingerprint),
        "build_json": json.dumps(
            {"compiler": "12", "flags": HOSTILE[:200], "label": "portable", "source_sha256": "s"}
        ),
        "probes_json": "{}",
    }


BENCHMARKS = (
    [  # (name, workload, threads, mode, batch size, units, seconds)
        (f"{HOSTILE[:2000]}[{k}]", HOSTILE[:300] + str(k), 1, "batch", None, 1000, 0.01 * (k + 1))
        for k in range(3)
    ]
    + [
        (f"loan.decide[c-{t}t-1.0]", "loan.decide", t, "batch", None, 100_000, 0.1 / t)
        for t in (1, 2)
    ]
    + [
        (
            f"loan.decide[c-capacity-{t}t-1.0-batch16]",
            "loan.decide",
            t,
            "capacity",
            16,
            10_000,
            0.05,
        )
        for t in (1, 2)
    ]
)


def _store(tmp_path, speed=1.0, probes_json="{}") -> tuple[Store, list[str]]:
    store = Store(str(tmp_path / "store"))
    ids = []
    for n, prefix in enumerate(("A", "B")):
        run = {**_run(f"20261128T00000{n}-{'ab'[n] * 8}", prefix), "probes_json": probes_json}
        store.write_run(run)
        rng = np.random.default_rng(n)
        for name, workload, threads, mode, batch, units, seconds in BENCHMARKS:
            rows = [
                {
                    "run_id": run["run_id"],
                    "benchmark": name,
                    "workload": workload,
                    "engine": "c",
                    "threads": threads,
                    "scale": 1.0,
                    "seed": 42,
                    "mode": mode,
                    "batch_size": batch,
                    "round": i,
                    "units": units,
                    "seconds": seconds / (speed if n else 1) * (1 + 0.01 * rng.standard_normal()),
                    "latency_ns_p99": 50_000 if mode == "capacity" else None,
                    "digest": "d-" + workload,
                }
                for i in range(9)
            ]
            store.write_samples(run, name, rows)
        ids.append(run["run_id"])
    return store, ids


def _markdown_checked(source: str) -> list[list[list[str]]]:
    """Render ``source`` as CommonMark with raw HTML allowed and GFM tables; fail on any raw
    HTML and on a table row whose cell count differs from its header's. Returns the tables
    (rows of cell texts)."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    tokens = md.parse(source)
    raw = [t for t in tokens if t.type == "html_block"] + [
        c for t in tokens if t.children for c in t.children if c.type == "html_inline"
    ]
    assert not raw, raw[:3]
    rendered = md.render(source)
    for element in ("<script", "<b>", "<a ", "<!--"):
        assert element not in rendered
    # the only images are our charts, the only links none
    assert rendered.count("<img") == rendered.count('<img src="charts/')
    for char in CONTROLS:
        assert char not in source, repr(char)
    tables, row, cells = [], None, 0
    for t in tokens:
        if t.type == "table_open":
            tables.append([])
        elif t.type == "tr_open":
            row = []
        elif t.type == "inline" and row is not None:
            row.append(t.content)
        elif t.type == "tr_close":
            tables[-1].append(row)
            row = None
        elif t.type == "table_close":
            widths = {len(r) for r in tables[-1]}
            assert len(widths) == 1, widths
            cells += sum(len(r) for r in tables[-1])
    # a line that starts like a table but is no table would be a broken one
    bars = [line for line in source.splitlines() if line.startswith("|")]
    assert len(bars) == sum(len(t) + 1 for t in tables)  # rows + the delimiter row
    return tables


class _Elements(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: set[str] = set()
        self.images: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        if tag == "img":
            self.images.append(dict(attrs)["src"])


# ---- the seams ----
def test_every_seam_shows_controls_and_bidi_escaped():
    for seam in (text.terminal, text.markdown, text.html, text.pdf, text.chart):
        out = seam(HOSTILE, 100_000)
        assert not any(c in out for c in CONTROLS), seam.__name__
        assert "\\x1b" in out and "\\u202e" in out and "\\r" in out and "\\n" in out
    assert text.html("<b>&") == "&lt;b&gt;&amp;"
    cut = text.markdown(HOSTILE, 60)
    assert cut.endswith("…") and len(text.visible(HOSTILE)[:59]) == 59


def test_markdown_seam_keeps_every_character_as_text():
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    for sample in (PIECES, "a|b", "`x`", "<div>", "&lt;", "*a*", "1. x", "- y", "> q", "\\"):
        rendered = md.renderInline(text.markdown(sample))
        assert html.unescape(rendered) == text.visible(sample), (sample, rendered)


def test_markdown_seam_escapes_only_what_markdown_reads_there():
    for plain in ("ledger.eod[c-1t-0.002]", "work?", "latency_ns_p99", "a - b (c): d!", "x\\n"):
        assert text.markdown(plain) == plain
    assert text.markdown("1.5 < 2 & a*b") == "1.5 &lt; 2 & a\\*b"
    assert text.markdown("[x](http://e) [y]: z &amp;") == "\\[x\\](http://e) [y\\]: z \\&amp;"
    # what starts a block only at the start of a line, and a heading's closing hashes
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    for line in ("# h", "> q", "- y", "+ y", "1. x", "2) x", "---", "===", "___", "[x]: /u"):
        for place in ("{}", "- {}", "## {}", "| a |\n|---|\n| {} |"):
            source = place.format(text.markdown(line))
            tokens = md.parse(source)
            kinds = {t.type for t in tokens} - {"inline", "paragraph_open", "paragraph_close"}
            item = {"list_item_open", "list_item_close"}
            expected = {
                "{}": set(),
                "- {}": {"bullet_list_open", "bullet_list_close"} | item,
                "## {}": {"heading_open", "heading_close"},
            }.get(place)
            if expected is not None:
                assert kinds == expected, (place, line, kinds)
            inline = [t.content for t in tokens if t.type == "inline"][-1]
            assert html.unescape(md.renderInline(inline)) == line, (place, line)
    assert md.render("## " + text.markdown("Title #")) == "<h2>Title #</h2>\n"


# ---- compare ----
def test_compare_outputs_with_hostile_names(tmp_path, capsys):
    store, ids = _store(tmp_path, speed=1.3)
    assert cli.main(["compare", *ids, "--store", store.location, "--format", "markdown"]) == 0
    markdown = capsys.readouterr().out
    tables = _markdown_checked(markdown)
    assert len(tables) == 1 and len(tables[0]) == 1 + len(BENCHMARKS)
    assert cli.main(["compare", *ids, "--store", store.location]) == 0
    terminal = capsys.readouterr().out
    assert not any(c in terminal for c in CONTROLS)
    # one line per row: the header, noise line, column names, the rows, the suite lines
    rows = [line for line in terminal.splitlines() if "×" in line and "–" in line]
    assert len(rows) >= len(BENCHMARKS)
    for fmt in ("json", "csv"):  # data formats carry the text as data
        assert cli.main(["compare", *ids, "--store", store.location, "--format", fmt]) == 0
        assert capsys.readouterr().out


def _samples(factor: float) -> list[dict]:
    key = dict(zip(compare.KEY, (HOSTILE[:50], "c", 1, 1.0, 1, "batch", None), strict=True))
    times = np.random.default_rng(1).normal(1.0, 0.01, 10) * factor
    return [
        {"benchmark": HOSTILE[:500], **key, "seconds": s, "digest": None, "units": 1} for s in times
    ]


def test_the_gate_lines_are_escaped():
    result = compare.compare(_run("a", "A"), _run("b", "B"), _samples(1), _samples(1.5), set())
    gate = compare.gate(result, 5)
    assert gate.outcome == "regression"
    for md in (False, True):
        line = compare_format.gate_lines(gate, md)[0]
        assert "\n" not in line and not any(c in line for c in CONTROLS)
        if md:
            _markdown_checked(line)


# ---- the report ----
def test_report_formats_with_hostile_labels(tmp_path):
    store, ids = _store(tmp_path, speed=1.3)
    cost = tmp_path / "cost.toml"
    cost.write_text(COST)
    out = tmp_path / "report"
    write.report(ids, [store.location], [str(cost)], set(), str(out))
    page = (out / "report.html").read_text()
    elements = _Elements()
    elements.feed(page)
    ours = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "li"}
    ours |= {"table", "thead", "tbody", "tr", "th", "td", "figure", "img", "figcaption", "pre"}
    ours |= {"div"}  # page one's tiles, each of a class of ours
    assert elements.tags <= ours, elements.tags - ours
    tiles = ('<div class="tiles">', '<div class="tile">', '<div class="label">')
    tiles += ('<div class="value">', '<div class="sentence">')
    assert page.count("<div") == sum(page.count(t) for t in tiles) > 0
    assert all(src.startswith("data:image/png;base64,") for src in elements.images)
    assert "onerror=" not in page.replace("onerror=alert(2)&gt;", "")  # only as text
    assert not any(c in page for c in CONTROLS)
    tables = _markdown_checked((out / "report.md").read_text())
    assert len(tables) >= 8
    assert all(len(cell) <= text.CELL_WIDTH * 2 for t in tables for r in t for cell in r)
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm is None:
        pytest.skip("pdftoppm not installed")
    subprocess.run(
        [pdftoppm, "-r", "20", "-png", str(out / "report.pdf"), str(tmp_path / "page")],
        check=True,
        capture_output=True,
    )
    assert len(list(tmp_path.glob("page-*.png"))) >= 3


def test_a_failed_report_leaves_nothing(tmp_path, monkeypatch):
    store, ids = _store(tmp_path)
    out = tmp_path / "report"

    def broken(document):
        raise RuntimeError("the PDF could not be drawn")

    monkeypatch.setattr(render, "to_pdf", broken)
    with pytest.raises(RuntimeError):
        write.report(ids, [store.location], [], set(), str(out))
    assert not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["store"]  # no temporary folder
    monkeypatch.undo()
    write.report(ids, [store.location], [], set(), str(out))
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    monkeypatch.setattr(render, "to_pdf", broken)
    with pytest.raises(RuntimeError):
        write.report(ids, [store.location], [], set(), str(out))
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report", "store"]


def test_runs_and_show_print_store_text_escaped_one_line_each(tmp_path, capsys):
    store, ids = _store(tmp_path)
    assert cli.main(["runs", "--store", store.location]) == 0
    listed = capsys.readouterr().out
    assert not any(c in listed for c in CONTROLS)
    lines = listed.splitlines()
    assert len(lines) == 1 + len(ids) and max(map(len, lines)) < 250
    for key in (ids[0], "B" + HOSTILE):
        assert cli.main(["show", key, "--store", store.location]) == 0
        shown = capsys.readouterr()
        assert not any(c in shown.out + shown.err for c in CONTROLS)
        # the run line, the column names, a row per benchmark, what "ok" means, efficiency
        # and capacity; the scaling curves of loan.decide (2 heading lines, 1 and 2 threads)
        # and its 2-thread evidence (2 heading lines, its row, the host line)
        lines = shown.out.splitlines()
        assert len(lines) == 2 + len(BENCHMARKS) + 3 + 4 + 4 and max(map(len, lines)) < 250


@pytest.mark.parametrize(
    "probes_json",
    [
        "[1, 2]",
        "{not json",
        '"text"',
        json.dumps(
            {
                "compute_units_per_s_1t": 1,
                "compute_units_per_s_2t": 10**400,  # no float holds it
                "memory_bandwidth_bytes_per_s_1t": True,
                "memory_bandwidth_bytes_per_s_2t": True,
                "random_updates_per_s_1t": "fast",
            }
        ),
    ],
)
def test_damaged_probes_read_as_unknown_in_show_and_the_report(tmp_path, capsys, probes_json):
    store, ids = _store(tmp_path, speed=1.3, probes_json=probes_json)
    assert cli.main(["show", ids[1], "--store", store.location]) == 0
    shown = capsys.readouterr().out
    row = next(line for line in shown.splitlines() if line.startswith("loan.decide "))
    assert row.split()[5:7] == ["–", "–"]  # no probe, no host ceiling: unknown, not 100 %
    assert "host 2t:" not in shown
    out = tmp_path / "report"
    write.report(ids, [store.location], [], set(), str(out))
    assert "compute at 2 threads" in (out / "report.md").read_text()


def test_show_names_the_run_it_picks_and_refuses_an_ambiguous_id(tmp_path, capsys):
    store, ids = _store(tmp_path)
    newer = _run("20261128T000009-cccccccc", "A")  # the same label as the first run
    store.write_run(newer)
    assert cli.main(["show", "A" + HOSTILE, "--store", store.location]) == 0
    shown = capsys.readouterr()
    assert shown.out.startswith(f"run {newer['run_id']} ")
    warning = shown.err.splitlines()
    assert len(warning) == 1 and warning[0].startswith("bankbench: warning: 2 runs are labelled")
    assert f"using the newest, {newer['run_id']}" in warning[0] and ids[0] in warning[0]
    assert not any(c in shown.err for c in CONTROLS)

    assert cli.main(["show", "2026", "--store", store.location]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(
        "bankbench: error: run '2026' is ambiguous: it begins 3 run ids in "
    )
    assert all(run_id in error for run_id in (*ids, newer["run_id"]))

    assert cli.main(["show", "nope\x1b[31m\r\n", "--store", store.location]) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "is not in the store" in error
    assert not any(c in error for c in CONTROLS)


def test_warnings_show_user_text_escaped(capsys):
    import warnings

    cli.main(["list"])  # installs the one-line warning hook
    capsys.readouterr()
    warnings.warn_explicit("label \x1b[31mred\u202e\r\nnext", UserWarning, "x.py", 1)
    err = capsys.readouterr().err
    assert err == "bankbench: warning: label \\x1b[31mred\\u202e\\r\\nnext\n"


def test_a_command_shows_a_hostile_word_as_a_shell_reruns_it():
    """The manifest's commands: a label with a newline (or any control or bidi character) is
    shown in bash's $'…' quoting, visible and, run again, the very same argument; the shell
    gets back every word exactly. Words without such characters stay as shlex quotes them."""
    words = ["bankbench", "run", "--label", PIECES.replace("\x00", ""), "night\nrun", "a'b\\c"]
    words += ["tag\U000e0001", "plain"]
    line = shlex.join(words)
    shown = text.command(line)
    assert text.visible(shown) == shown  # nothing invisible is left
    assert "--label $'night\\nrun'" in text.command(shlex.join(["x", "--label", "night\nrun"]))
    assert text.command("bankbench run -w 'loan.*' --label day") == (
        "bankbench run -w 'loan.*' --label day"  # nothing to show otherwise: unchanged
    )
    assert text.command("bankbench 'unbalanced\n") == "bankbench 'unbalanced\n"  # seams escape it
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash not installed")
    done = subprocess.run([bash, "-c", "printf '%s\\0' " + shown], capture_output=True, check=True)
    assert done.stdout.decode().split("\0")[:-1] == words


def test_the_reports_commands_show_a_labels_newline_as_a_shell_reruns_it():
    from reports.document import Code, Document

    document = Document("t", "s", [Code(["bankbench run -p smoke --label 'night\nrun'"])])
    expected = "bankbench run -p smoke --label $'night\\nrun'"
    assert f"<pre>{html.escape(expected)}</pre>" in render.to_html(document)
    assert f"~~~~\n{expected}\n~~~~" in render.to_markdown(document, None)[0]
    pdftotext = shutil.which("pdftotext")
    if pdftotext is None:
        pytest.skip("pdftotext not installed")
    pdf = subprocess.run(
        [pdftotext, "-", "-"], input=render.to_pdf(document), capture_output=True, check=True
    )
    assert expected in pdf.stdout.decode()


def test_runs_aligns_wide_labels_by_terminal_columns(tmp_path, capsys):
    """A label of CJK characters and emoji took two columns a character and pushed the rest
    of its row right; the columns after it are now where every other row has them."""
    store = Store(str(tmp_path / "store"))
    labels = ("plain", "银行 ☃ 🏦 é", "银" * 30, "e\u0301cole")
    for n, label in enumerate(labels):
        store.write_run({**_run(f"20261128T00000{n}-{'abcd'[n] * 8}", "A"), "label": label})
    assert cli.main(["runs", "--store", store.location]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert len(rows) == len(labels)
    # the status column starts after 25 + 1 + 24 + 1 terminal columns on every row
    starts = []
    for row in rows:
        used = 0
        for i, char in enumerate(row):
            if used == 25 + 1 + 24 + 1:
                starts.append(row[i:].split()[0])
                break
            used += text._columns(char)
    assert starts == ["complete"] * len(labels), starts
    assert text.cell("银" * 30, 24).endswith("… ")  # cut at 23 columns, then the ellipsis
