"""Data-parallel training over MPI: launched with mpiexec -n 2 under a timeout; skipped
where mpi4py is not installed (the test extra installs it)."""
import os
import shutil
import subprocess
import sys

import pytest

pytest.importorskip("mpi4py")
MPIEXEC = shutil.which("mpiexec", path=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""))
pytestmark = pytest.mark.skipif(MPIEXEC is None, reason="no mpiexec")
HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "mpi")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def mpirun(script, *args, n=2, timeout=120):
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    return subprocess.run([MPIEXEC, "-n", str(n), sys.executable, os.path.join(HERE, script)] + list(args),
                          capture_output=True, text=True, timeout=timeout, env=env)


def test_syncbatchnorm_equals_batchnorm_on_the_global_batch():
    out = mpirun("syncbn_equivalence.py")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("SyncBatchNorm == BatchNorm on the global batch") == 2
    assert out.stdout.count("SyncBatchNorm == BatchNorm at extreme scales") == 2


def test_data_parallel_module_equals_single_process_and_rank0_writes(tmp_path):
    out = mpirun("data_parallel_module.py", str(tmp_path / "dp"))
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("data-parallel == single process") == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dp-0002.manifest", "dp-0002.params",
                                                          "dp-symbol.json"]


def test_syncbatchnorm_stays_synchronized_after_fit_evaluates_another_batch_size():
    out = mpirun("syncbn_after_eval.py")
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("SyncBatchNorm synchronized after eval") == 2


def test_graph_mismatch_is_detected_on_every_rank():
    out = mpirun("mismatch_and_failure.py", "mismatch")
    assert out.returncode != 0
    assert out.stdout.count("ranks disagree on the graph") == 2


def test_failure_on_one_rank_aborts_the_job_without_hanging():
    out = mpirun("mismatch_and_failure.py", "failure", timeout=60)
    assert out.returncode != 0
    assert "rank 1 left fit early (RuntimeError: injected failure)" in out.stderr


def test_data_parallel_example_runs(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    out = subprocess.run([MPIEXEC, "-n", "2", sys.executable, os.path.join(ROOT, "examples", "train_data_parallel.py"),
                          "--epochs", "1", "--out", str(tmp_path)] +
                         (["--data-dir", MNIST] if os.path.isdir(MNIST) else []),
                         capture_output=True, text=True, timeout=300, env=env)
    if "scikit-learn is not installed" in out.stderr + out.stdout:
        pytest.skip("no data: neither ../shared/data nor scikit-learn")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "test accuracy over all ranks" in out.stdout
    assert (tmp_path / "lenet_bn_dp-0001.params").exists()


MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist-t10k")


@pytest.mark.parametrize("mode", ["systemexit", "interrupt", "initfail"])
def test_a_rank_leaving_fit_by_systemexit_or_ctrl_c_ends_the_job(mode):
    out = mpirun("early_exit.py", mode, timeout=60)      # the old code hung here
    if mode != "systemexit":                             # sys.exit(0) keeps its status
        assert out.returncode != 0
    name = {"systemexit": "SystemExit", "interrupt": "KeyboardInterrupt", "initfail": "MissingParamError"}[mode]
    assert "rank 1 left fit early (%s" % name in out.stderr, out.stderr[-2000:]
    assert "finished fit" not in out.stdout


def test_unequal_batch_counts_fail_on_every_rank_with_a_message_saying_so():
    out = mpirun("early_exit.py", "unequal", timeout=60)
    assert out.returncode != 0
    assert out.stdout.count("unequal numbers of batches in epoch 0: rank(s) 1 ran out after 3 batches") == 2, \
        out.stdout + out.stderr[-2000:]
