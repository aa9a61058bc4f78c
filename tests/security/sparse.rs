//! Layer entries that declare far more bytes than they carry: GNU sparse files (old GNU type
//! 'S' and PAX GNU.sparse.* 0.0, 0.1, 1.0) unpack sparse, and no entry may declare more than
//! the store's filesystem has left.

use super::archive::{docker_archive, load_images, Image};
use super::common::{assert_fails, stdout, TestRoot};
use serde_json::json;
use sha2::{Digest, Sha256};
use std::os::unix::fs::MetadataExt;

const GIB: u64 = 1 << 30;
const PIB: u64 = 1 << 50;

/// The data segments of each test file (offset, length) in a 1 GiB file; all but the last are
/// whole 512-byte blocks, as GNU tar writes them.
const SEGMENTS: [(u64, u64); 6] = [
    (0, 512),
    (8192, 512),
    (1 << 20, 512),
    (GIB / 2, 512),
    (GIB / 2 + 65536, 1024),
    (GIB - 700, 700),
];

/// The bytes of a segment of file `tag`: never all zero, different per file and offset.
fn segment_bytes(tag: u8, offset: u64, len: u64) -> Vec<u8> {
    (0..len)
        .map(|i| (((offset + i) % 251) as u8) ^ tag | 1)
        .collect()
}

/// The file's logical bytes in [from, from + len): segment data, zeros elsewhere.
fn logical(tag: u8, segments: &[(u64, u64)], from: u64, len: u64) -> Vec<u8> {
    let mut out = vec![0u8; len as usize];
    for &(off, n) in segments {
        let data = segment_bytes(tag, off, n);
        for (i, b) in data.iter().enumerate() {
            let at = off + i as u64;
            if at >= from && at < from + len {
                out[(at - from) as usize] = *b;
            }
        }
    }
    out
}

fn pad(v: &mut Vec<u8>) {
    while v.len() % 512 != 0 {
        v.push(0);
    }
}

/// The segments' data, back to back, as a sparse member stores them.
fn stored_data(tag: u8, segments: &[(u64, u64)]) -> Vec<u8> {
    segments
        .iter()
        .flat_map(|&(off, n)| segment_bytes(tag, off, n))
        .collect()
}

fn base_header(header: &mut tar::Header, name: &str, kind: tar::EntryType, size: u64) {
    header.set_path(name).unwrap();
    header.set_mode(0o644);
    header.set_uid(0);
    header.set_gid(0);
    header.set_mtime(1_704_067_200);
    header.set_entry_type(kind);
    header.set_size(size);
}

/// An old-GNU sparse member (type 'S'): four map entries in the header, the rest in extension
/// blocks, then the data.
fn old_gnu_sparse(name: &str, tag: u8, segments: &[(u64, u64)], real_size: u64) -> Vec<u8> {
    let data = stored_data(tag, segments);
    let mut header = tar::Header::new_gnu();
    base_header(
        &mut header,
        name,
        tar::EntryType::GNUSparse,
        data.len() as u64,
    );
    let gnu = header.as_gnu_mut().unwrap();
    gnu.set_real_size(real_size);
    for (slot, &(off, n)) in gnu.sparse.iter_mut().zip(segments) {
        slot.set_offset(off);
        slot.set_length(n);
    }
    let rest: Vec<&[(u64, u64)]> = segments.get(4..).unwrap_or(&[]).chunks(21).collect();
    gnu.set_is_extended(!rest.is_empty());
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    for (i, chunk) in rest.iter().enumerate() {
        let mut ext = tar::GnuExtSparseHeader::new();
        for (slot, &(off, n)) in ext.sparse_mut().iter_mut().zip(chunk.iter()) {
            slot.set_offset(off);
            slot.set_length(n);
        }
        ext.set_is_extended(i + 1 < rest.len());
        out.extend_from_slice(ext.as_bytes());
    }
    out.extend_from_slice(&data);
    pad(&mut out);
    out
}

/// One PAX record: "LEN KEY=VALUE\n", LEN counting itself.
fn pax_record(key: &str, value: &str) -> Vec<u8> {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while len.to_string().len() + body.len() != len {
        len = len.to_string().len() + body.len();
    }
    format!("{len}{body}").into_bytes()
}

/// A PAX extended header ('x') carrying `records`, then a regular member with `data`.
fn pax_member(name: &str, records: &[(String, String)], data: &[u8], size: u64) -> Vec<u8> {
    let pax: Vec<u8> = records.iter().flat_map(|(k, v)| pax_record(k, v)).collect();
    let mut x = tar::Header::new_ustar();
    base_header(
        &mut x,
        "PaxHeaders/sparse",
        tar::EntryType::XHeader,
        pax.len() as u64,
    );
    x.set_cksum();
    let mut out = x.as_bytes().to_vec();
    out.extend_from_slice(&pax);
    pad(&mut out);
    let mut header = tar::Header::new_ustar();
    base_header(&mut header, name, tar::EntryType::Regular, size);
    header.set_cksum();
    out.extend_from_slice(header.as_bytes());
    out.extend_from_slice(data);
    pad(&mut out);
    out
}

fn rec(k: &str, v: impl ToString) -> (String, String) {
    (k.to_string(), v.to_string())
}

/// PAX GNU sparse 0.0: the map as repeated GNU.sparse.offset / GNU.sparse.numbytes records.
fn pax_sparse_00(name: &str, tag: u8, segments: &[(u64, u64)], real_size: u64) -> Vec<u8> {
    let data = stored_data(tag, segments);
    let mut records = vec![
        rec("GNU.sparse.size", real_size),
        rec("GNU.sparse.numblocks", segments.len()),
    ];
    for &(off, n) in segments {
        records.push(rec("GNU.sparse.offset", off));
        records.push(rec("GNU.sparse.numbytes", n));
    }
    records.push(rec("GNU.sparse.name", name));
    let stored_name = format!("GNUSparseFile.1/{name}");
    pax_member(&stored_name, &records, &data, data.len() as u64)
}

/// PAX GNU sparse 0.1: the map in one GNU.sparse.map record.
fn pax_sparse_01(name: &str, tag: u8, segments: &[(u64, u64)], real_size: u64) -> Vec<u8> {
    let data = stored_data(tag, segments);
    let map: Vec<String> = segments
        .iter()
        .flat_map(|&(o, n)| [o.to_string(), n.to_string()])
        .collect();
    let records = vec![
        rec("GNU.sparse.size", real_size),
        rec("GNU.sparse.numblocks", segments.len()),
        rec("GNU.sparse.map", map.join(",")),
        rec("GNU.sparse.name", name),
    ];
    let stored_name = format!("GNUSparseFile.1/{name}");
    pax_member(&stored_name, &records, &data, data.len() as u64)
}

/// PAX GNU sparse 1.0: the map at the start of the data, in decimal lines padded to a block.
fn pax_sparse_10(name: &str, tag: u8, segments: &[(u64, u64)], real_size: u64) -> Vec<u8> {
    let mut data = format!("{}\n", segments.len()).into_bytes();
    for &(o, n) in segments {
        data.extend_from_slice(format!("{o}\n{n}\n").as_bytes());
    }
    pad(&mut data);
    data.extend(stored_data(tag, segments));
    let records = vec![
        rec("GNU.sparse.major", 1),
        rec("GNU.sparse.minor", 0),
        rec("GNU.sparse.name", name),
        rec("GNU.sparse.realsize", real_size),
    ];
    let stored_name = format!("GNUSparseFile.1/{name}");
    pax_member(&stored_name, &records, &data, data.len() as u64)
}

/// A layer tar of `members` (each already block-padded), with the end-of-archive blocks.
fn layer_of(members: &[Vec<u8>]) -> Vec<u8> {
    let mut out: Vec<u8> = members.concat();
    out.extend_from_slice(&[0u8; 1024]);
    out
}

/// Blocks in use under `dir` (st_blocks, 512-byte units), not following links.
fn blocks_under(dir: &std::path::Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let meta = entry.path().symlink_metadata().unwrap();
            total += meta.blocks();
            if meta.is_dir() {
                stack.push(entry.path());
            }
        }
    }
    total
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A 2.5 KB-per-file layer whose entries declare 1 GiB sparse files, once in each GNU sparse
/// encoding. Written out in full, each would take 1 GiB of the store's disk (an 8 GiB one filled
/// it); unpacked sparse they take a few blocks, and the container still reads 1 GiB files with
/// the data where the map puts it and zeros in the holes.
#[test]
fn sparse_layer_entry_cannot_fill_the_disk() {
    let root = TestRoot::with_busybox();
    let files: [(&str, u8); 4] = [
        ("sparse-gnu", 0x10),
        ("sparse-pax00", 0x20),
        ("sparse-pax01", 0x40),
        ("sparse-pax10", 0x80),
    ];
    let layer = layer_of(&[
        old_gnu_sparse(files[0].0, files[0].1, &SEGMENTS, GIB),
        pax_sparse_00(files[1].0, files[1].1, &SEGMENTS, GIB),
        pax_sparse_01(files[2].0, files[2].1, &SEGMENTS, GIB),
        pax_sparse_10(files[3].0, files[3].1, &SEGMENTS, GIB),
    ]);
    assert!(
        layer.len() < 32 * 1024,
        "the layer is {} bytes",
        layer.len()
    );

    let before = blocks_under(&root.dir);
    load_images(
        &root,
        &[Image {
            tag: "sparse:1".into(),
            config: json!({"Cmd": ["true"]}),
            layers: vec![layer],
        }],
    );
    let grown = (blocks_under(&root.dir) - before) * 512;
    assert!(
        grown < 16 << 20,
        "loading four 1 GiB sparse files took {grown} bytes of the store's disk"
    );

    // What the container reads: the size, and 4 KiB pages at data and hole offsets.
    let probes: [u64; 10] = [
        0,
        4096,
        8192,
        1 << 20,
        256 << 20,
        GIB / 4,
        GIB / 2,
        GIB / 2 + 65536,
        GIB - 8192,
        GIB - 4096,
    ];
    let mut script = String::new();
    for (name, _) in files {
        script.push_str(&format!("stat -c %s /{name}; "));
        for p in probes {
            script.push_str(&format!(
                "dd if=/{name} bs=4096 skip={} count=1 2>/dev/null | sha256sum; ",
                p / 4096
            ));
        }
    }
    let out = root.ok(["run", "--rm", "sparse:1", "sh", "-c", &script]);
    let mut expected = String::new();
    for (_, tag) in files {
        expected.push_str(&format!("{GIB}\n"));
        for p in probes {
            let page = logical(tag, &SEGMENTS, p, 4096);
            expected.push_str(&format!("{}  -\n", sha256_hex(&page)));
        }
    }
    assert_eq!(out, expected);
}

/// An entry declaring more than the store's filesystem has left (1 PiB, in a few hundred bytes)
/// is refused before anything is written: one line naming the entry and both sizes, exit 1
/// (`docker load`'s), and nothing of the load left in the store.
#[test]
fn entry_larger_than_the_free_space_is_refused_whole() {
    let root = TestRoot::with_busybox();
    let images_before = root.ok(["images"]);
    let layers_before = std::fs::read_dir(root.dir.join("layers")).unwrap().count();
    let tail = [(PIB - 512, 512)];
    // The member's header says 512 bytes; its PAX size, which wins, 1 PiB.
    let huge_plain = pax_member(
        "huge-plain",
        &[rec("size", PIB)],
        &segment_bytes(1, 0, 512),
        512,
    );
    let cases: [(&str, Vec<u8>); 3] = [
        ("huge-gnu", old_gnu_sparse("huge-gnu", 1, &tail, PIB)),
        ("huge-pax10", pax_sparse_10("huge-pax10", 2, &tail, PIB)),
        ("huge-plain", huge_plain),
    ];
    for (name, member) in cases {
        let archive = docker_archive(&[Image {
            tag: format!("{name}:1"),
            config: json!({"Cmd": ["true"]}),
            layers: vec![layer_of(&[member])],
        }]);
        let path = root.dir.with_extension(format!("{name}.tar"));
        std::fs::write(&path, archive).unwrap();
        let out = root.berth(["load", "-i"]).arg(&path).output().unwrap();
        let _ = std::fs::remove_file(&path);
        assert_fails(
            &out,
            1,
            &format!("layer entry \"{name}\": declares {PIB} bytes"),
        );
        assert!(stdout(&out).is_empty(), "{}", stdout(&out));
        assert_eq!(root.ok(["images"]), images_before, "{name}");
        assert_eq!(
            std::fs::read_dir(root.dir.join("layers")).unwrap().count(),
            layers_before,
            "{name} left a layer"
        );
        let staged: Vec<_> = std::fs::read_dir(root.dir.join("tmp"))
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(staged.is_empty(), "{name} left {staged:?}");
    }
}

/// A PAX 1.0 member whose map declares a million segments and then holds "0" lines up to
/// nearly the 1 MiB map limit (a 1.2 KB layer gzipped): re-parsing the map after each block
/// made one such member cost ~86 s of CPU before it failed. The map is read in one pass and
/// the count refused at its first line: one line naming it, exit 1, nothing loaded.
#[test]
fn sparse_map_cannot_burn_the_cpu() {
    let root = TestRoot::with_busybox();
    let images_before = root.ok(["images"]);
    let mut data = b"1000000\n".to_vec();
    while data.len() + 2 < 1 << 20 {
        data.extend_from_slice(b"0\n");
    }
    pad(&mut data);
    data.extend(segment_bytes(3, 0, 512));
    let records = vec![
        rec("GNU.sparse.major", 1),
        rec("GNU.sparse.minor", 0),
        rec("GNU.sparse.name", "burn"),
        rec("GNU.sparse.realsize", GIB),
    ];
    let member = pax_member("GNUSparseFile.1/burn", &records, &data, data.len() as u64);
    let archive = docker_archive(&[Image {
        tag: "burn:1".into(),
        config: json!({"Cmd": ["true"]}),
        layers: vec![layer_of(&[member.clone(), member])],
    }]);
    let path = root.dir.with_extension("burn.tar");
    std::fs::write(&path, archive).unwrap();
    let out = root.berth(["load", "-i"]).arg(&path).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert_fails(
        &out,
        1,
        "sparse map larger than 1048576 bytes (1000000 segments)",
    );
    assert!(stdout(&out).is_empty(), "{}", stdout(&out));
    assert_eq!(root.ok(["images"]), images_before);
}
