use regex::Regex;
fn main() { let r = Regex::new(r"(?P<a>x+)").unwrap(); println!("{:?}", r.captures("axxb").unwrap().name("a").map(|m| m.as_str())); }
