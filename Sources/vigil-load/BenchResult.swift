import Foundation

/// The figures of one load run in one line `result: name=value ...`, which
/// `scripts/bench.sh` reads to build its table (the prose lines above it are
/// for people).
struct BenchResult {
    private var values: [(String, Double)] = []

    init(_ values: KeyValuePairs<String, Double> = [:]) {
        for (name, value) in values { self[name] = value }
    }

    subscript(name: String) -> Double? {
        get { values.first { $0.0 == name }?.1 }
        set {
            values.removeAll { $0.0 == name }
            if let newValue { values.append((name, newValue)) }
        }
    }

    func print() {
        Swift.print("result: " + values.map { "\($0.0)=\(String(format: "%.4f", $0.1))" }.joined(separator: " "))
    }
}
