"""Run libfann (FANN 2.2, C) on request: the FANN side of zen's FANN parity checks.

Runs under the system interpreter with Debian's bindings (``apt install python3-fann2``), which
exist for /usr/bin/python3 only, so zen (on its own interpreter) talks to it through JSON:
a request on stdin, the results on stdout. Used by tests/neural/test_fann.py (when FANN is
installed) and by tools/make_fann_reference.py (which stores the results for machines without
FANN). Requests, each a list of cases:

- ``create``: build each network (standard, sparse, shortcut), set its activations, ``srand``
  the seed, ``fann_randomize_weights(-1, 1)``, save it (``fixed``: in fixed point), run the
  inputs: ``{id: outputs}``.
- ``load``: load each .net file and run the inputs: ``{id: outputs}``.
- ``data``: read each .data file: ``{path: [inputs, outputs]}``.
- ``init_train``: build a standard network, ``srand`` the seed, ``fann_init_weights`` on a
  training file (FANN's Nguyen-Widrow), save it as the initial network, then train it with
  full-batch iRPROP- and the linear error function, saving it again at the end:
  ``{id: {"rand": the rand() values init_weights drew, "epoch_mse": the MSE fann_train_epoch
  reported per epoch, "final_mse": fann_test_data after training}}``.
"""

import ctypes
import json
import sys

from fann2 import libfann

# fann2 1.2 has no names for FANN_SIN and FANN_COS; these are their values in fann_data.h.
MISSING_CODES = {"SIN": 16, "COS": 17}

libc = ctypes.CDLL(None)


def code(name):
    key = name.upper()
    return getattr(libfann, key) if hasattr(libfann, key) else MISSING_CODES[key]


def configure(net, case):
    net.set_activation_function_hidden(code(case["hidden"]))
    net.set_activation_steepness_hidden(case["hidden_steepness"])
    net.set_activation_function_output(code(case["output"]))
    net.set_activation_steepness_output(case["output_steepness"])


def read_data(path):
    data = libfann.training_data()
    if not data.read_train_from_file(path):
        sys.exit("FANN could not read " + path)
    return data


def create(case):
    net = libfann.neural_net()
    if case["kind"] == "sparse":
        net.create_sparse_array(case["connection_rate"], case["layers"])
    elif case["kind"] == "shortcut":
        net.create_shortcut_array(case["layers"])
    else:
        net.create_standard_array(case["layers"])
    configure(net, case)
    # fann_create_* seeds rand() from /dev/urandom; reseeding makes the weights repeatable
    # (not the connections of a sparse network, which are drawn during creation).
    libc.srand(case["seed"])
    net.randomize_weights(-1.0, 1.0)
    if case["kind"] == "fixed":
        net.save_to_fixed(case["path"])  # returns the position of the decimal point
    elif not net.save(case["path"]):
        sys.exit("FANN could not save " + case["path"])
    return [net.run(row) for row in case["inputs"]]


def load(case):
    net = libfann.neural_net()
    if not net.create_from_file(case["path"]):
        sys.exit("FANN could not load " + case["path"])
    return [net.run(row) for row in case["inputs"]]


def init_train(case):
    net = libfann.neural_net()
    net.create_standard_array(case["layers"])
    configure(net, case)
    data = read_data(case["data"])
    libc.srand(case["seed"])
    net.init_weights(data)
    # fann_init_weights draws one rand() per connection, in the order of the .net file;
    # the same seed replays them.
    libc.srand(case["seed"])
    drawn = [libc.rand() for _ in range(net.get_total_connections())]
    if not net.save(case["initial_path"]):
        sys.exit("FANN could not save " + case["initial_path"])
    net.set_training_algorithm(libfann.TRAIN_RPROP)
    net.set_train_error_function(libfann.ERRORFUNC_LINEAR)
    epoch_mse = [net.train_epoch(data) for _ in range(case["epochs"])]
    final_mse = net.test_data(data)
    if not net.save(case["final_path"]):
        sys.exit("FANN could not save " + case["final_path"])
    return {"rand": drawn, "epoch_mse": epoch_mse, "final_mse": final_mse}


def main():
    request = json.load(sys.stdin)
    results = {}
    for case in request.get("create", []):
        results[case["id"]] = create(case)
    for case in request.get("load", []):
        results[case["id"]] = load(case)
    for path in request.get("data", []):
        data = read_data(path)
        results[path] = [data.get_input(), data.get_output()]
    for case in request.get("init_train", []):
        results[case["id"]] = init_train(case)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
