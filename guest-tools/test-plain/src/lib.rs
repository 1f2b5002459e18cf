//! A test component written for another host: plain WIT exports
//! (`wit/units.wit`), no `wasmgate:tools` world. wasmgate's tests load it
//! from a tools folder and call each function as a tool.

wit_bindgen::generate!({ world: "units", path: "wit" });

use exports::example::units::text;

struct Units;

/// Metres in one of each unit.
fn metres(unit: &str) -> Option<f64> {
    match unit {
        "m" => Some(1.0),
        "cm" => Some(0.01),
        "ft" => Some(0.3048),
        "in" => Some(0.0254),
        _ => None,
    }
}

impl Guest for Units {
    fn convert(quantity: Quantity, to: String) -> Result<Quantity, String> {
        let from = metres(&quantity.unit).ok_or_else(|| format!("unknown unit {:?}", quantity.unit))?;
        let into = metres(&to).ok_or_else(|| format!("unknown unit {to:?}"))?;
        Ok(Quantity { value: quantity.value * from / into, unit: to })
    }

    fn area(shape: Shape) -> f64 {
        match shape {
            Shape::Circle(radius) => std::f64::consts::PI * radius * radius,
            Shape::Square(side) => side * side,
            Shape::Point => 0.0,
        }
    }

    fn units_of(system: System, first: Option<u8>) -> Vec<String> {
        let all: &[&str] = match system {
            System::Metric => &["m", "cm"],
            System::Imperial => &["ft", "in"],
        };
        all.iter().take(first.map_or(all.len(), usize::from)).map(|u| u.to_string()).collect()
    }

    fn styled(style: Style, count: i32, sign: char) -> (bool, bool, String) {
        let has = |flag: Style| style.bits() & flag.bits() != 0;
        (has(Style::SHORT), has(Style::PLURAL), format!("{sign}{count}"))
    }

    #[allow(clippy::empty_loop)]
    fn spin() {
        loop {}
    }

    fn read_file(path: String) -> Result<String, String> {
        std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))
    }
}

impl text::Guest for Units {
    fn upper(text: String) -> String {
        text.to_uppercase()
    }

    fn line_words(lines: Vec<String>) -> Vec<u32> {
        lines.iter().map(|l| l.split_whitespace().count() as u32).collect()
    }
}

export!(Units);
