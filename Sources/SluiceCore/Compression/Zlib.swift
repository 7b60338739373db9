import CZlib

/// What the process links of zlib.
public enum Zlib {
    /// The version of the zlib library loaded at run time (`1.2.13`).
    public static var version: String { String(cString: zlibVersion()) }
}
