"""The SVG timeline: bands where their times say, clipped to the window, words escaped once, ticks on
the caller's origin."""

from __future__ import annotations

from report_markup import SVG_NS, svgs, titles

from vrrpkit.report.timeline import LABEL_W, RIGHT, Band, Chart, Lane, Marker, Span, nice_step, svg


def chart(**kw: object) -> Chart:
    lanes = [
        Lane("a", [Band(0, 50, "MASTER", "a master"), Band(50, 100, "BACKUP", "a backup")]),
        Lane("b", [Band(-20, 30, "BACKUP", "b backup"), Band(30, 120, "MASTER", "b master", hatched=True)],
             [Marker(30, "b killed", "power-off")]),
    ]
    defaults: dict[str, object] = {"lanes": lanes, "start": 0.0, "end": 100.0, "tick_label": lambda t: f"{t:g}"}
    defaults.update(kw)
    return Chart(**defaults)  # type: ignore[arg-type]


def rects(svg_el: object, cls: str) -> list[tuple[float, float]]:
    out = []
    for g in svg_el.iter(f"{SVG_NS}g"):  # type: ignore[attr-defined]
        if set(cls.split()) <= set((g.get("class") or "").split()):
            r = g.find(f"{SVG_NS}rect")
            out.append((float(r.get("x")), float(r.get("width"))))
    return out


def test_bands_are_placed_by_time_and_clipped_to_the_window() -> None:
    doc = svg(chart(width=LABEL_W + RIGHT + 1000))  # 10 px a second
    (el,) = svgs(doc)
    assert rects(el, "band MASTER")[0] == (LABEL_W, 500.0)
    assert rects(el, "band BACKUP")[0] == (LABEL_W + 500.0, 500.0)
    # b's BACKUP began before the window and its MASTER ends after it: both cut at the edges
    assert rects(el, "band BACKUP")[1] == (LABEL_W, 300.0)
    assert rects(el, "band MASTER")[1] == (LABEL_W + 300.0, 700.0)
    assert titles(el, "marker power-off") == ["b killed"]
    assert [g.get("data-lane") for g in el.iter(f"{SVG_NS}g") if g.get("class") == "lane"] == ["a", "b"]


def test_a_band_outside_the_window_is_not_drawn_and_a_short_one_stays_visible() -> None:
    lanes = [Lane("a", [Band(-10, -1, "FAULT", "before"), Band(10, 10.001, "MASTER", "blip")])]
    (el,) = svgs(svg(chart(lanes=lanes)))
    assert titles(el, "band FAULT") == []
    assert rects(el, "band MASTER")[0][1] >= 1.5


def test_text_from_config_is_escaped_once() -> None:
    lanes = [Lane('<b>"x"&', [Band(0, 100, "MASTER", "<script>alert(1)</script> & more", "<i>")])]
    doc = svg(chart(lanes=lanes, title="t<>"))
    assert "<script>" not in doc and "<b>" not in doc and "<i>" not in doc
    (el,) = svgs(doc)
    assert titles(el, "band MASTER") == ["<script>alert(1)</script> & more"]  # the reader sees the words


def test_ticks_fall_on_the_origin_and_steps_are_round() -> None:
    assert nice_step(3600) == 600 and nice_step(60) == 10 and nice_step(3.7) == 0.5
    labels: list[float] = []
    svg(chart(start=1000.3, end=1060.3, origin=1060.3, tick_label=lambda t: labels.append(t) or ""))
    assert [round(1060.3 - t, 6) for t in labels] == [60, 50, 40, 30, 20, 10, 0]


def test_spans_label_what_fits_and_fall_back_to_their_short_name() -> None:
    spans = [Span(0, 50, "1. a long step title", "step 1"), Span(90, 100, "2. another long title", "step 2", short="2")]
    (el,) = svgs(svg(chart(spans=spans, width=LABEL_W + RIGHT + 200)))
    texts = ["".join(t.itertext()).strip() for g in el.iter(f"{SVG_NS}g") if "span" in (g.get("class") or "")
             for t in g.iter(f"{SVG_NS}text")]  # fmt: skip
    assert texts == ["1. a long st…", "2"]  # 100 px hold 13 characters; 20 px hold none of the title
