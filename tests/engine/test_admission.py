from modelfusion.engine.admission import AdmissionQueue


def test_largest_that_fits_first_and_equal_needs_in_order():
    q = AdmissionQueue([("a", 10), ("b", 300), ("c", 50), ("d", 50), ("e", 200)])
    assert q.take(1000, alone=False) == ("b", 300)
    assert q.take(100, alone=False) == ("c", 50)  # 'e' does not fit: a smaller job skips ahead
    assert q.take(100, alone=False) == ("d", 50)
    assert q.take(5, alone=False) is None  # nothing fits and others are running: wait
    assert q.take(5, alone=True) == ("e", 200)  # nothing running: the largest runs even over the budget
    assert q.take(10, alone=False) == ("a", 10)
    assert len(q) == 0 and q.take(10**9, alone=True) is None
