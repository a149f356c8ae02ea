#!/usr/bin/python3
"""Writes fuzz/regression/: inputs behind issue 10's defects and the fuzzers' findings, one file
each, most made from the seed corpus (written by hpt_fuzz_seeds) by changing one field.

    /usr/bin/python3 fuzz/make_regression_corpus.py SEEDS_DIRECTORY

Each input crashed, hung, allocated without bound, made an unbounded message or gave a silently
wrong value before its fix. Standard library only; CI never runs this script, it replays the
committed files (tests hpt_fuzz_replay_* and the fuzzers' own corpus).
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "regression")
DEEP = 50000  # nesting far beyond every reader's bound (json_max_depth is 32)


def write(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def read(seeds, target, name):
    with open(os.path.join(seeds, target, name), "rb") as f:
        return f.read()


def u64(data, at):
    return struct.unpack_from("<Q", data, at)[0]


def patched(data, at, fmt, value):
    b = bytearray(data)
    struct.pack_into(fmt, b, at, value)
    return bytes(b)


def skip_tensors(data, at, scalar=8):
    """The offset past a tensor list (u64 count, then per tensor a u64 size and its values), and
    the offsets of the size fields."""
    count = u64(data, at)
    at += 8
    sizes = []
    for _ in range(count):
        sizes.append(at)
        at += 8 + scalar * u64(data, at)
    return at, sizes


def checkpoint_layout(data):
    """Offsets of a double trainer checkpoint's fields (after the fuzz input's variant byte)."""
    at = 1
    for _ in range(5):  # tag, trainer, header, settings, step count
        at = data.index(b"\n", at) + 1
    optimizer, sizes = skip_tensors(data, at)
    layout = {"weights": at, "weight_sizes": sizes, "optimizer": optimizer}
    if data[optimizer:optimizer + 8] == b"hpt.adm1":
        layout["adam_steps"] = optimizer + 16 + 5 * 8  # tag, byte order, scalar size, settings
        layout["first_moments"] = layout["adam_steps"] + 8
        layout["second_moments"], _ = skip_tensors(data, layout["first_moments"])
    return layout


def shrunk(data, at):
    """The tensor list at `at` with every tensor cut to one value."""
    count = u64(data, at)
    end, _ = skip_tensors(data, at)
    tensors = struct.pack("<Q", count) + b"".join(
        struct.pack("<Qd", 1, 0.25) for _ in range(count))
    return data[:at] + tensors + data[end:]


def checkpoints(seeds):
    for target, adam_name in (("mlp_trainer_restore", "variant_2_after_1"),
                              ("sequence_trainer_restore", "variant_1_after_1")):
        adam = read(seeds, target, adam_name)
        layout = checkpoint_layout(adam)
        write(target, "adam_second_moments_one_value", shrunk(adam, layout["second_moments"]))
        write(target, "adam_step_count_int64_max",
              patched(adam, layout["adam_steps"], "<q", 2**63 - 1))
        write(target, "tensor_count_2_40", patched(adam, layout["weights"], "<Q", 2**40))
        write(target, "tensor_size_2_40", patched(adam, layout["weight_sizes"][0], "<Q", 2**40))
        write(target, "moment_count_2_40", patched(adam, layout["first_moments"], "<Q", 2**40))
        write(target, "truncated_in_weights", adam[:layout["weights"] + 20])
        # Found by the fuzzers: each text line was quoted whole in the refusal.
        plain = read(seeds, target, "variant_0_after_1")
        lines = plain.split(b"\n")
        for index, name in ((1, "trainer_line_long"), (2, "header_line_long"),
                            (3, "settings_line_long")):
            changed = list(lines)
            changed[index] += b"\x1b[2J" + b"7" * 4000
            write(target, name, b"\n".join(changed))


def studies(seeds):
    jsonl = read(seeds, "study_jsonl", "study_0.jsonl").decode()
    header, first = jsonl.split("\n")[:2]
    def record(old, new):
        assert old in first, old
        return header + "\n" + first.replace(old, new, 1) + "\n"
    write("study_jsonl", "resource_1e28", record('"resource":4', '"resource":1e28'))
    write("study_jsonl", "rung_4294967297", record('"rung":0', '"rung":4294967297'))
    write("study_jsonl", "resource_1_9", record('"resource":4', '"resource":1.9'))
    write("study_jsonl", "resource_negative", record('"resource":4', '"resource":-4'))
    write("study_jsonl", "seed_negative", header.replace('"seed":1', '"seed":-1') + "\n" + first)
    write("study_jsonl", "configuration_nested",
          record('"kind":"plain"', '"kind":' + "[" * DEEP + "]" * DEEP))
    write("study_jsonl", "duplicate_key", record('"rung":0', '"rung":0,"rung":1'))
    write("study_jsonl", "version_2", header.replace('"hpt_study":1', '"hpt_study":2') + "\n")

    csv = read(seeds, "study_csv", "study_0.csv").decode()
    head, row = csv.split("\n")[:2]
    cells = row.split(",")
    def with_cell(index, value):
        changed = list(cells)
        changed[index] = value
        return head + "\n" + ",".join(changed) + "\n"
    write("study_csv", "bracket_4294967297", with_cell(2, "4294967297"))
    write("study_csv", "unknown_status", with_cell(1, "finished"))
    write("study_csv", "trial_negative", with_cell(0, "-1"))
    write("study_csv", "resource_negative", with_cell(4, "-4"))
    write("study_csv", "result_step_0_with_result", with_cell(6, "0"))
    write("study_csv", "cell_100000_characters", with_cell(5, "1" * 100000))
    write("study_csv", "status_with_escape", with_cell(1, "\x1b[2Jcompleted"))
    write("study_csv", "unterminated_quote", head + "\n" + ",".join(cells[:9]) + ',"never closed\n')
    write("study_csv", "no_direction_column",
          "trial,status,bracket,rung,resource,result,result_step,wall_seconds,stopped_by,reason,x\n"
          '0,completed,0,0,1,0.5,1,0.0,"","",0.5\n')


def configurations():
    write("config_json", "nested", "[" * DEEP + "]" * DEEP)
    write("config_json", "value_nested", '{"a":' + "[" * DEEP + "]" * DEEP + "}")
    write("config_json", "uint64_max", '{"a":18446744073709551615}')
    write("config_json", "duplicate_keys", '{"a":1,"a":2}')
    write("config_json", "number_1e400", '{"a":1e400}')
    write("config_json", "key_100000_characters", '{"' + "k" * 100000 + '":1}')
    write("config_json", "key_with_escape", '{"\\u001b[2J":1,"\\u001b[2J":2}')


def datasets():
    # The first byte is the target's options (see dataset_csv.cpp): 0x02 no header, classes;
    # 0x06 no header, regression.
    write("dataset_csv", "plus_minus_3", b"\x02" + b"1,+-3,0\n")
    write("dataset_csv", "label_2147483646", b"\x02" + b"1,0\n2,2147483646\n")
    write("dataset_csv", "cell_100000_digits", b"\x02" + b"1," + b"7" * 100000 + b",0\n")
    write("dataset_csv", "line_100000_cells", b"\x06" + b"1," * 100000 + b"2\n")
    write("dataset_csv", "label_nan_regression", b"\x06" + b"1,nan\n")


def safetensors_file(header, data=b""):
    text = header.encode()
    return struct.pack("<Q", len(text)) + text + data


def safetensors():
    long_name = "n" * 100000
    for target in ("safetensors_float", "safetensors_double"):
        write(target, "shape_2_62_empty_offsets", safetensors_file(
            '{"t":{"dtype":"F32","shape":[4611686018427387904],"data_offsets":[0,0]}}'))
        write(target, "duplicate_names", safetensors_file(
            '{"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
            '"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', b"\0" * 8))
        write(target, "metadata_not_object", safetensors_file('{"__metadata__":[1,2]}'))
        write(target, "header_length_beyond_file", struct.pack("<Q", 2**63) + b"{}")
        write(target, "nested", safetensors_file("[" * DEEP + "]" * DEEP))
        write(target, "name_100000_characters", safetensors_file(
            '{"' + long_name + '":{"dtype":"F32","shape":[1]}}'))
        write(target, "metadata_key_100000_characters", safetensors_file(
            '{"__metadata__":{"' + long_name + '":1}}'))
        write(target, "dtype_with_escape", safetensors_file(
            '{"w":{"dtype":"F\\n\\u001b[2J","shape":[1],"data_offsets":[0,4]}}', b"abcd"))


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    seeds = sys.argv[1]
    checkpoints(seeds)
    studies(seeds)
    configurations()
    datasets()
    safetensors()


if __name__ == "__main__":
    main()
