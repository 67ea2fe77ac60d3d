"""Exercises: implement a component yourself and have it graded against the real one.

    spec.py       what an exercise is (functions, oracle, cases, known mistakes)
    registry.py   the exercises and name lookup
    learner.py    loading the learner's file; its problems as one message with a line
    compare.py    expected vs got in a few numbers
    mistakes.py   hint matching: which known mistake the learner's output equals
    grader.py     the tests, in order, in-process
    report.py     what a check found (sent back from the child process as JSON)
    runner.py     the same in a subprocess with a time limit (what `minimind exercise check` runs)
    skeleton.py   the file `minimind exercise start` writes
    training.py   `check --train`: loss curves with the learner's component vs the real one
    catalog/      one file per exercise: its solution, docs, hints, cases and mistakes
"""
