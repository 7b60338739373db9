import CLibPQ

/// What the process links of libpq.
public enum LibPQ {
    /// The version of the libpq library loaded at run time (`15.10`; `9.6.24` before PostgreSQL 10).
    public static var version: String {
        let number = Int(PQlibVersion())
        if number >= 100_000 { return "\(number / 10_000).\(number % 10_000)" }
        return "\(number / 10_000).\(number / 100 % 100).\(number % 100)"
    }
}
