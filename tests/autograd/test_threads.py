"""What threads may do at once (docs/engine.md, "Threads"): read-only walks beside backward,
backward on disjoint graphs, backward into shared leaves (each leaf gets the exact sum)."""

from __future__ import annotations

import copy
import pickle
import random
import sys
import threading

import pytest

import autograd
from autograd import Value, compile_graph, to_dot, topological_order


@pytest.fixture(autouse=True)
def frequent_thread_switches():
    """Switch threads every microsecond instead of every 5 ms, so the threads interleave inside each walk."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


def run_together(*targets):
    errors: list[BaseException] = []

    def guarded(target):
        try:
            target()
        except BaseException as error:  # reported in the main thread
            errors.append(error)

    threads = [threading.Thread(target=guarded, args=(t,)) for t in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def tanh_loss(params):
    return autograd.sum([(p * p).tanh() for p in params])


def reference_grads(data, calls):
    params = [Value(x) for x in data]
    loss = tanh_loss(params)
    for _ in range(calls):
        loss.backward()
    return [p.grad for p in params]


@pytest.mark.parametrize("reader", ["topological_order", "to_dot", "compile_graph", "pickle", "deepcopy"])
def test_threads_training_beside_a_read_only_walk_gets_every_gradient_right(reader):
    """The repro of issue 21: 20 backward calls over 2,000 parameters while another thread walks the graph."""
    rng = random.Random(0)
    data = [rng.uniform(-1.0, 1.0) for _ in range(2000)]
    params = [Value(x) for x in data]
    loss = tanh_loss(params)
    done = threading.Event()
    walks = {
        "topological_order": lambda: topological_order(loss, include_leaves=True),
        "to_dot": lambda: to_dot(loss, max_nodes=100),
        "compile_graph": lambda: compile_graph(loss),
        "pickle": lambda: pickle.loads(pickle.dumps(loss)),
        "deepcopy": lambda: copy.deepcopy(loss),
    }
    walked = []

    def walk():
        while not done.is_set() or not walked:
            walks[reader]()
            walked.append(1)

    def train():
        try:
            for _ in range(20):
                loss.backward()
        finally:
            done.set()

    run_together(train, walk)
    expected = reference_grads(data, 20)
    wrong = sum(p.grad != e for p, e in zip(params, expected))
    assert wrong == 0, f"{wrong} of {len(params)} gradients wrong"
    assert walked


def test_threads_backward_on_disjoint_graphs_in_several_threads():
    rng = random.Random(1)
    datasets = [[rng.uniform(-1.0, 1.0) for _ in range(500)] for _ in range(4)]
    graphs = []
    for data in datasets:
        params = [Value(x) for x in data]
        graphs.append((params, tanh_loss(params)))

    def train(loss):
        return lambda: [loss.backward() for _ in range(5)]

    run_together(*[train(loss) for _, loss in graphs])
    for (params, _), data in zip(graphs, datasets):
        assert [p.grad for p in params] == reference_grads(data, 5)


def test_threads_backward_into_shared_leaves_gives_each_leaf_the_exact_sum():
    """Two threads backpropagating graphs that share 20,000 leaves (the issue's second repro)."""
    rng = random.Random(2)
    data = [rng.uniform(-1.0, 1.0) for _ in range(20_000)]
    shared = [Value(x) for x in data]
    first = autograd.sum([p * 2.0 for p in shared])
    second = autograd.sum([p * p for p in shared])

    run_together(lambda: [first.backward() for _ in range(3)], lambda: [second.backward() for _ in range(3)])
    # Each call adds its contributions to a leaf in one addition, so the result is the same sum
    # in some order of the six calls: 3 * 2.0 + 3 * 2x, exactly, whatever the order.
    wrong = 0
    for p, x in zip(shared, data):
        a, b = 2.0, 2.0 * x
        candidates = {_ordered_sum(order, a, b) for order in _orders()}
        wrong += p.grad not in candidates
    assert wrong == 0, f"{wrong} of {len(shared)} shared leaves wrong"


def _orders():
    """Every interleaving of three calls of each graph (as a string of 'a' and 'b')."""
    from itertools import combinations

    for positions in combinations(range(6), 3):
        yield "".join("a" if i in positions else "b" for i in range(6))


def _ordered_sum(order, a, b):
    total = 0.0
    for which in order:
        total += a if which == "a" else b
    return total


def test_threads_no_grad_in_one_thread_does_not_stop_recording_in_another():
    recorded = []
    entered, release = threading.Event(), threading.Event()

    def without_grad():
        with autograd.no_grad():
            entered.set()
            release.wait()

    def with_grad():
        entered.wait()
        recorded.append(bool((Value(1.0) * 2.0).parents))
        release.set()

    run_together(without_grad, with_grad)
    assert recorded == [True]
