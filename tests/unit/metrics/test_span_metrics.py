import pytest
import torch

from trainlab.metrics.span import SpanMetrics, decode_best_span, span_exact_match, span_token_f1


def t(*values):
    return torch.tensor(values)


def test_exact_match_and_token_f1_by_hand():
    pred_s, pred_e = t(2, 2, 5, 0), t(4, 3, 6, 0)
    gold_s, gold_e = t(2, 2, 1, 3), t(4, 5, 2, 3)
    assert span_exact_match(pred_s, pred_e, gold_s, gold_e).tolist() == [1, 0, 0, 0]
    f1 = span_token_f1(pred_s, pred_e, gold_s, gold_e)
    # second: pred 2..3 (2 tokens), gold 2..5 (4 tokens): P=1, R=0.5 -> F1=2/3
    assert f1.tolist() == pytest.approx([1.0, 2 / 3, 0.0, 0.0])


def test_decode_respects_order_and_length():
    start = t(0.0, 5.0, 0.0, 0.0, 0.0)
    end = t(9.0, 0.0, 0.0, 0.0, 6.0)
    # (1, 0) would score 14 but ends before it starts; the best legal span is (1, 4): 11
    s, e = decode_best_span(start[None], end[None])
    assert (s.item(), e.item()) == (1, 4)
    s, e = decode_best_span(start[None], end[None], max_span_len=2)
    assert e.item() - s.item() < 2


def test_span_metric_accumulates():
    metric = SpanMetrics()
    metric.update(t(1), t(2), t(1), t(2))
    metric.update(t(0), t(0), t(3), t(3))
    out = metric.compute()
    assert out["em"].item() == pytest.approx(0.5) and out["token_f1"].item() == pytest.approx(0.5)


def test_another_copy_of_the_evidence_scores_as_the_gold_span():
    # row 0: the prediction is the second copy (8..10); row 1: no copy (-1), a miss stays one
    pred_s, pred_e = t(8, 8), t(10, 10)
    gold_s, gold_e = t(2, 2), t(4, 4)
    copies = t([8, -1], [-1, -1]), t([10, -1], [-1, -1])
    assert span_exact_match(pred_s, pred_e, gold_s, gold_e, copies).tolist() == [1, 0]
    assert span_token_f1(pred_s, pred_e, gold_s, gold_e, copies).tolist() == [1, 0]
    assert span_exact_match(pred_s, pred_e, gold_s, gold_e).tolist() == [0, 0]
