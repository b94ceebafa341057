"""The node's encrypted store (:mod:`node.store`) and its data key (:mod:`node.datakey`)."""

from __future__ import annotations

import io
import os
import struct
import tracemalloc
from pathlib import Path

import pytest

from ledger.hashing import content_root
from node.access.delivery.checks import SourceHashes, require_untampered_source
from node.datakey import KEY_NAME, KeySecret, data_key, key_file_secret, rewrap
from node.errors import DecryptionFailed, SettingsInvalid, SourceTampered
from node.models import DatasetVersion
from node.store import PLAIN, DataStore, first_encrypted, is_encrypted, seal_clear_files

CHUNK = 64
HEADER = 4 + 1 + 16 + 4 + 4
FRAME = struct.Struct(">BI")


def frames(blob: bytes) -> tuple[bytes, list[bytes]]:
    """A stored file cut into its header and its frames (each with its own frame header)."""
    header, rest, found = blob[:HEADER], blob[HEADER:], []
    while rest:
        _, length = FRAME.unpack(rest[:FRAME.size])
        found.append(rest[:FRAME.size + length])
        rest = rest[FRAME.size + length:]
    return header, found


def stored(store: DataStore, path: Path, data: bytes) -> Path:
    store.store(io.BytesIO(data), path)
    return path


@pytest.fixture()
def store() -> DataStore:
    return DataStore(os.urandom(32), chunk_size=CHUNK)


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 5 * CHUNK, 5 * CHUNK + 7])
def test_a_stored_file_reads_back_as_written_and_its_root_is_the_plaintexts(
        store: DataStore, tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    plain = tmp_path / "plain.csv"
    plain.write_bytes(data)
    path = stored(store, tmp_path / "kept.csv", data)
    assert is_encrypted(path) and (size < 16 or data not in path.read_bytes())
    with store.open(path) as f:
        assert f.read() == data
    for chunk_size in (CHUNK, 10, 1 << 20):
        ours, theirs = store.root_of(path, chunk_size), content_root(plain, chunk_size)
        assert (ours.root, ours.size) == (theirs.root, theirs.size)
        assert ours.files[0].chunk_digests == theirs.files[0].chunk_digests
    assert store.sha256(path)[1] == size


def test_a_folder_of_stored_files_has_the_root_of_its_plaintext_folder(store: DataStore, tmp_path: Path) -> None:
    (tmp_path / "kept" / "sub").mkdir(parents=True)
    (tmp_path / "plain" / "sub").mkdir(parents=True)
    for name, data in {"a.csv": b"x,y\n1,2\n", "sub/b.jsonl": b'{"a": 1}\n' * 50}.items():
        (tmp_path / "plain" / name).write_bytes(data)
        stored(store, tmp_path / "kept" / name, data)
    assert store.root_of(tmp_path / "kept", CHUNK) == content_root(tmp_path / "plain", CHUNK)


def read_all(store: DataStore, path: Path) -> bytes:
    with store.open(path) as f:
        return f.read()


def test_a_changed_cut_reordered_or_spliced_file_is_refused(store: DataStore, tmp_path: Path) -> None:
    data = os.urandom(4 * CHUNK + 3)
    path = stored(store, tmp_path / "kept", data)
    header, parts = frames(path.read_bytes())
    assert len(parts) == 5
    _, others = frames(stored(store, tmp_path / "other", data).read_bytes())
    flipped = bytearray(parts[1])
    flipped[FRAME.size + 3] ^= 1
    forgeries = {
        "a changed byte": header + parts[0] + bytes(flipped) + b"".join(parts[2:]),
        "the final frame cut": header + b"".join(parts[:-1]),
        "cut inside a frame": header + b"".join(parts)[:-5],
        "two frames swapped": header + parts[1] + parts[0] + b"".join(parts[2:]),
        "a frame of another file": header + parts[0] + others[1] + b"".join(parts[2:]),
        "data after the final frame": header + b"".join(parts) + parts[0],
        "another file's header": frames(path.read_bytes())[0][:5] + os.urandom(16) + header[21:] + b"".join(parts),
    }
    for what, blob in forgeries.items():
        path.write_bytes(blob)
        with pytest.raises(DecryptionFailed, match="stored file"):
            read_all(store, path)
        with pytest.raises(DecryptionFailed):
            store.root_of(path, CHUNK)
    path.write_bytes(header + b"".join(parts))
    assert read_all(store, path) == data


def test_another_key_or_no_key_opens_nothing(store: DataStore, tmp_path: Path) -> None:
    path = stored(store, tmp_path / "kept", b"id_number\n110101199003070016\n")
    with pytest.raises(DecryptionFailed, match="does not authenticate"):
        read_all(DataStore(os.urandom(32), chunk_size=CHUNK), path)
    with pytest.raises(DecryptionFailed, match="no data key"):
        read_all(PLAIN, path)


def test_a_file_kept_in_clear_reads_as_it_is(store: DataStore, tmp_path: Path) -> None:
    path = tmp_path / "legacy.csv"
    path.write_bytes(b"a,b\n1,2\n")
    assert read_all(store, path) == b"a,b\n1,2\n"
    assert store.root_of(path, CHUNK) == content_root(path, CHUNK)


def test_files_kept_in_clear_by_an_earlier_version_are_sealed_in_place_with_their_roots(
        store: DataStore, tmp_path: Path) -> None:
    (tmp_path / "datasets" / "0xab").mkdir(parents=True)
    (tmp_path / "deliveries").mkdir()
    clear = {tmp_path / "datasets" / "0xab" / "v1.csv": b"name\nPerson 1\n" * 30,
             tmp_path / "deliveries" / "0x01.csv": b"name\nP*****\n"}
    for path, data in clear.items():
        path.write_bytes(data)
    (tmp_path / "node.db").write_bytes(b"not a kept file")
    roots = {path: content_root(path, CHUNK) for path in clear}
    assert first_encrypted(tmp_path) is None
    assert seal_clear_files(store, tmp_path) == 2 and seal_clear_files(store, tmp_path) == 0
    for path, data in clear.items():
        assert is_encrypted(path) and read_all(store, path) == data
        assert store.root_of(path, CHUNK).root == roots[path].root
    assert (tmp_path / "node.db").read_bytes() == b"not a kept file"
    assert first_encrypted(tmp_path) in clear


def test_a_failed_write_leaves_no_file(store: DataStore, tmp_path: Path) -> None:
    path = tmp_path / "kept"
    with pytest.raises(RuntimeError), store.create(path) as f:
        f.write(b"x" * 1000)
        raise RuntimeError("the upload broke off")
    assert not path.exists()


def test_storing_and_hashing_a_large_file_holds_constant_memory(tmp_path: Path) -> None:
    store = DataStore(os.urandom(32))  # 1 MiB frames, as a node keeps them
    size = 48 << 20
    plain = tmp_path / "big"
    with open(plain, "wb") as f:
        for _ in range(size >> 20):
            f.write(os.urandom(1 << 20))
    tracemalloc.start()
    try:
        with open(plain, "rb") as src:
            assert store.store(src, tmp_path / "kept") == size
        root = store.root_of(tmp_path / "kept")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert root.root == content_root(plain).root
    assert peak < 8 << 20, f"peak {peak} bytes for a {size}-byte file"


def version_of(path: Path, chunk_size: int) -> DatasetVersion:
    root = content_root(path, chunk_size) if not is_encrypted(path) else None
    return DatasetVersion(dataset_id="0x" + "ab" * 32, number=1, source_path=str(path), chunk_size=chunk_size,
                          content_root="0x" + root.root.hex() if root else "")


def test_the_delivery_check_hashes_the_plaintext_and_calls_an_unreadable_source_tampered(
        store: DataStore, tmp_path: Path) -> None:
    data = b"name,id_number\n" + b"Person 1,110101199003070016\n" * 20
    plain = tmp_path / "plain.csv"
    plain.write_bytes(data)
    version = version_of(plain, CHUNK)
    version.source_path = str(stored(store, tmp_path / "kept.csv", data))
    assert require_untampered_source(version, SourceHashes(), store) == tmp_path / "kept.csv"
    with pytest.raises(SourceTampered, match="nothing readable"):
        require_untampered_source(version, SourceHashes(), PLAIN)
    header, parts = frames((tmp_path / "kept.csv").read_bytes())
    (tmp_path / "kept.csv").write_bytes(header + parts[1] + parts[0] + b"".join(parts[2:]))
    with pytest.raises(SourceTampered, match="nothing readable"):
        require_untampered_source(version, SourceHashes(), store)


# ---------------------------------------------------------------- the data key


def passphrase(text: str) -> KeySecret:
    return KeySecret("passphrase", text.encode(), "passphrase")


def test_the_data_key_is_made_once_kept_wrapped_and_opened_only_by_its_passphrase(tmp_path: Path) -> None:
    key = data_key(tmp_path, passphrase("correct horse"))
    assert len(key) == 32 and data_key(tmp_path, passphrase("correct horse")) == key
    assert key not in (tmp_path / KEY_NAME).read_bytes() and key.hex().encode() not in (tmp_path / KEY_NAME).read_bytes()
    assert (tmp_path / KEY_NAME).stat().st_mode & 0o077 == 0
    with pytest.raises(SettingsInvalid, match="setting passphrase: it does not open the data key"):
        data_key(tmp_path, passphrase("wrong horse"))
    key_file = tmp_path / "data.key"
    key_file.write_bytes(os.urandom(32))
    with pytest.raises(SettingsInvalid, match="wrapped under a passphrase"):
        data_key(tmp_path, key_file_secret(key_file))


def test_a_lost_data_key_is_never_made_anew_over_files_encrypted_under_it(tmp_path: Path) -> None:
    secret = passphrase("correct horse")
    (tmp_path / "datasets").mkdir()
    stored(DataStore(data_key(tmp_path, secret)), tmp_path / "datasets" / "v1.csv", b"id_number\n1\n")
    (tmp_path / KEY_NAME).unlink()
    with pytest.raises(SettingsInvalid, match="is missing, yet .*v1.csv is encrypted under it"):
        data_key(tmp_path, secret, lambda: first_encrypted(tmp_path))
    assert not (tmp_path / KEY_NAME).exists()


def test_rewrapping_keeps_the_key_and_retires_the_old_secret(tmp_path: Path) -> None:
    key = data_key(tmp_path, passphrase("old passphrase"))
    rewrap(tmp_path, passphrase("old passphrase"), passphrase("new passphrase"))
    assert data_key(tmp_path, passphrase("new passphrase")) == key
    with pytest.raises(SettingsInvalid, match="does not open"):
        data_key(tmp_path, passphrase("old passphrase"))
    key_file = tmp_path / "data.key"
    key_file.write_bytes(os.urandom(48))
    rewrap(tmp_path, passphrase("new passphrase"), key_file_secret(key_file))
    assert data_key(tmp_path, key_file_secret(key_file)) == key
    with pytest.raises(SettingsInvalid, match="setting passphrase: the data key .* is wrapped under a key file"):
        data_key(tmp_path, passphrase("new passphrase"))
    key_file.write_bytes(os.urandom(32))
    with pytest.raises(SettingsInvalid, match="setting data_key_file: it does not open"):
        data_key(tmp_path, key_file_secret(key_file))


def test_a_short_or_missing_key_file_is_a_bad_setting(tmp_path: Path) -> None:
    with pytest.raises(SettingsInvalid, match="setting data_key_file: cannot read"):
        key_file_secret(tmp_path / "absent")
    (tmp_path / "short").write_bytes(b"12345")
    with pytest.raises(SettingsInvalid, match="needs at least 32"):
        key_file_secret(tmp_path / "short")


def test_random_key_bytes_are_kept_whole_and_a_text_key_loses_its_final_newline(tmp_path: Path) -> None:
    # `head -c 32 /dev/urandom`: one file in twenty starts or ends with a whitespace byte.
    binary = b"\n" + bytes(range(0x80, 0x9e)) + b" "
    (tmp_path / "binary").write_bytes(binary)
    assert key_file_secret(tmp_path / "binary").secret == binary
    hexed = os.urandom(32).hex()
    (tmp_path / "text").write_text(hexed + "\n")
    assert key_file_secret(tmp_path / "text").secret == hexed.encode()


# ---------------------------------------------------------------- rotation from the command line


def test_rotate_data_key_rewraps_with_the_node_stopped_and_refuses_bad_input(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import main
    from node.maintenance import announce_running

    data_dir = tmp_path / "data"
    for name, value in {"DEPARTMENT_ID": "rotation", "KEYSTORE_PATH": str(tmp_path / "keystore.json"),
                        "PASSPHRASE": "old passphrase", "DATA_DIR": str(data_dir)}.items():
        monkeypatch.setenv(f"PROVLEDGER_{name}", value)
    monkeypatch.delenv("PROVLEDGER_PASSPHRASE_FILE", raising=False)
    monkeypatch.delenv("PROVLEDGER_DATA_KEY_FILE", raising=False)
    data_dir.mkdir()
    key = data_key(data_dir, passphrase("old passphrase"))
    new = tmp_path / "new-passphrase"
    new.write_text("new passphrase\n")
    running = announce_running(data_dir)
    try:
        assert main(["node", "rotate-data-key", "--new-passphrase-file", str(new)]) == 1
        assert "a node service is running" in capsys.readouterr().err
    finally:
        running.close()
    assert main(["node", "rotate-data-key", "--new-passphrase-file", str(new)]) == 0
    assert "wrapped under the new passphrase" in capsys.readouterr().out
    assert data_key(data_dir, passphrase("new passphrase")) == key
    short = tmp_path / "short.key"
    short.write_bytes(b"not enough")
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", "new passphrase")
    assert main(["node", "rotate-data-key", "--new-key-file", str(short)]) == 2
    assert "--new-key-file" in capsys.readouterr().err
    assert main(["node", "rotate-data-key", "--new-passphrase-file", str(tmp_path / "absent")]) == 2
    capsys.readouterr()
    monkeypatch.setenv("PROVLEDGER_PASSPHRASE", "old passphrase")  # no longer the data key's
    assert main(["node", "rotate-data-key", "--new-passphrase-file", str(new)]) == 2
    assert "does not open the data key" in capsys.readouterr().err
    assert data_key(data_dir, passphrase("new passphrase")) == key


def test_a_node_with_the_wrong_data_key_file_stops_at_start_with_one_line_naming_the_setting(tmp_path: Path) -> None:
    from node.service import NodeService
    from node.settings import NodeSettings, startup_error

    keystore = tmp_path / "keystore.json"
    keystore.write_text("{}")
    key_file = tmp_path / "data.key"
    key_file.write_bytes(os.urandom(32))
    settings = NodeSettings(department_id="at-rest", keystore_path=keystore, passphrase="a passphrase",  # type: ignore[arg-type]
                            data_dir=tmp_path / "data", data_key_file=key_file, chain_url="http://127.0.0.1:9")
    (tmp_path / "data").mkdir()
    data_key(tmp_path / "data", key_file_secret(key_file))
    key_file.write_bytes(os.urandom(32))  # the operator points at another key
    with pytest.raises(SettingsInvalid) as caught:
        NodeService.start(settings)  # refused before the chain (nothing listens on port 9) is asked anything
    line = startup_error(caught.value)
    assert line.startswith("error: setting data_key_file: it does not open the data key") and "\n" not in line
