use gleaner_stages::clean::{BoilerplateStripper, CleanConfig};
fn main() {
    let p = std::env::args().nth(1).unwrap();
    let s = BoilerplateStripper::new(CleanConfig::default()).unwrap();
    let (t, _, _) = s.clean(&std::fs::read_to_string(p).unwrap());
    eprintln!("TITLE {t:?}");
}
