//! Rust `regex` crate engine runner for the regex tests (the engine behind Vector's VRL parse_regex).
//! One process handles every pattern and line.
//!
//! stdin:  line 1 "match" or "time <reps>"; line 2 the pattern count P; P pattern lines;
//!         then the subject count L; L subject lines (no line holds a newline).
//! stdout: one JSON array per (pattern, line): [p, l, null | {name: value|null}]  (match)
//!         or [p, l, best_ns]                                                   (time)
//! A pattern that does not compile: {"error": message, "pattern": p} and exit code 2.
use regex::Regex;
use std::io::{self, BufWriter, Read, Write};
use std::time::Instant;

fn json_str(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

fn main() {
    let mut input = String::new();
    io::stdin().read_to_string(&mut input).expect("stdin is not UTF-8");
    let mut it = input.split('\n');
    let mode = it.next().unwrap_or("");
    let reps: Option<u32> = mode.strip_prefix("time ").map(|n| n.parse().expect("reps"));
    let np: usize = it.next().unwrap().parse().expect("pattern count");
    let mut pats = Vec::with_capacity(np);
    for p in 0..np {
        let src = it.next().expect("pattern");
        match Regex::new(src) {
            Ok(re) => pats.push(re),
            Err(e) => {
                let mut s = String::from("{\"error\":");
                json_str(&e.to_string(), &mut s);
                println!("{},\"pattern\":{}}}", s, p);
                std::process::exit(2);
            }
        }
    }
    let nl: usize = it.next().unwrap().parse().expect("line count");
    let lines: Vec<&str> = (0..nl).map(|_| it.next().expect("line")).collect();

    // keeps timed matches observable without std::hint::black_box (Debian's rustc 1.63 lacks it)
    let mut sink: usize = 0;
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for (p, re) in pats.iter().enumerate() {
        let names: Vec<(usize, String)> = re
            .capture_names()
            .enumerate()
            .skip(1)
            .map(|(i, n)| (i, n.map(|s| s.to_string()).unwrap_or_else(|| i.to_string())))
            .collect();
        for (l, line) in lines.iter().enumerate() {
            let mut s = format!("[{},{},", p, l);
            if let Some(reps) = reps {
                re.captures(line);
                let mut best = u128::MAX;
                for _ in 0..reps {
                    let t0 = Instant::now();
                    let c = re.captures(line);
                    let dt = t0.elapsed().as_nanos();
                    sink += c.map_or(0, |c| c.len());
                    if dt < best {
                        best = dt;
                    }
                }
                s.push_str(&best.to_string());
            } else {
                match re.captures(line) {
                    None => s.push_str("null"),
                    Some(c) => {
                        s.push('{');
                        for (k, (i, name)) in names.iter().enumerate() {
                            if k > 0 {
                                s.push(',');
                            }
                            json_str(name, &mut s);
                            s.push(':');
                            match c.get(*i) {
                                None => s.push_str("null"),
                                Some(m) => json_str(m.as_str(), &mut s),
                            }
                        }
                        s.push('}');
                    }
                }
            }
            s.push(']');
            writeln!(out, "{}", s).unwrap();
        }
    }
    out.flush().unwrap();
    if sink == usize::MAX {
        eprintln!("{}", sink);
    }
}
