"""The `hj212 run` summary reads the gateway's Prometheus text."""

from pipeline.run import Child, parse_metrics, summary

TEXT = """# HELP hj212_gateway_frames_total frames by command and outcome
# TYPE hj212_gateway_frames_total counter
hj212_gateway_connections_open 3
hj212_gateway_frames_total{cn="2011",outcome="accepted"} 10
hj212_gateway_frames_total{cn="2051",outcome="accepted"} 4
hj212_gateway_frames_total{cn="2011",outcome="rejected_crc"} 1
hj212_gateway_published_total{topic="hj212.frames"} 14
"""


def test_counters_with_and_without_labels():
    snap = parse_metrics(TEXT, at=1.0)
    assert snap.get("hj212_gateway_connections_open") == 3
    assert snap.get("hj212_gateway_frames_total") == 15
    assert snap.get("hj212_gateway_frames_total", cn="2011") == 11
    assert snap.by_label("hj212_gateway_frames_total", "outcome") == {
        "accepted": 14, "rejected_crc": 1}


def test_summary_shows_rates_between_two_scrapes(tmp_path):
    before = parse_metrics(TEXT, at=1.0)
    now = parse_metrics(TEXT.replace("} 10", "} 30"), at=3.0)
    screen = "\n".join(summary(now, before, [Child("gateway", ["x"], tmp_path / "g.log")], 0.0))
    assert "2011=31" in screen
    assert "10/s" in screen  # 20 more frames in 2 s
    assert "gateway    not started" in screen


def test_no_gateway_yet(tmp_path):
    assert "not answering" in "\n".join(summary(None, None, [], 0.0))
