import SluiceCore
import SluiceRuntime

#if canImport(Glibc)
    import Glibc
#endif

/// A small blocking HTTP/1.1 client for the CLI's thin commands (`sluice status`, `sluice reload`):
/// one request per connection, to `http://HOST:PORT` or `unix:/path`.
public struct AdminClient: Sendable {
    public let address: String
    public let token: String?

    public init(address: String, token: String?) {
        self.address = address
        self.token = token
    }

    /// The admin address of the daemon working on `dataDirectory`, from the file it keeps there.
    public static func address(dataDirectory: String) throws -> String {
        let path = dataDirectory + "/" + DaemonRunner.addressFile
        guard let bytes = try? FileSystem.readFile(path), let json = try? JSONValue.parse(bytes),
            let admin = json["admin"]?.stringValue
        else {
            throw AdminError(
                "no daemon is running on \(dataDirectory) (it keeps its address in \(path)); start one with "
                    + "`sluice daemon`, or give the address with --admin")
        }
        if let pid = json["pid"]?.integerValue, kill(pid_t(pid), 0) != 0 && errno == ESRCH {
            throw AdminError("the daemon that worked on \(dataDirectory) (pid \(pid)) is no longer running")
        }
        guard admin != "off" else {
            throw AdminError("the daemon running on \(dataDirectory) has its admin API off (admin.listen)")
        }
        return admin
    }

    /// Sends the request; returns the status code and body. Waits up to `timeoutSeconds` for the answer.
    public func request(_ method: String, _ path: String, body: [UInt8] = [], timeoutSeconds: Int = 150) throws -> (
        status: Int, body: String
    ) {
        let descriptor = try connect()
        defer { close(descriptor) }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var head = "\(method) \(path) HTTP/1.1\r\nHost: sluice\r\nConnection: close\r\n"
        head += "Content-Length: \(body.count)\r\n"
        if !body.isEmpty { head += "Content-Type: application/json\r\n" }
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        let request = Array((head + "\r\n").utf8) + body
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw AdminError("cannot send to the daemon at \(address): \(errorText())") }
            sent += n
        }
        var response: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw AdminError("no answer from the daemon at \(address): \(errorText())") }
            response += buffer[0..<n]
        }
        return try Self.parse(response, from: address)
    }

    static func parse(_ response: [UInt8], from address: String) throws -> (status: Int, body: String) {
        let text = String(decoding: response, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n"), let line = text[..<end.lowerBound].split(separator: "\r\n").first
        else { throw AdminError("the daemon at \(address) sent an answer that is not HTTP") }
        let parts = line.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else {
            throw AdminError("the daemon at \(address) sent a malformed status line: \(line)")
        }
        let headers = text[..<end.lowerBound].lowercased()
        var body = String(text[end.upperBound...])
        if headers.contains("transfer-encoding: chunked") { body = dechunk(body) }
        return (status, body)
    }

    /// The body of a chunked response.
    static func dechunk(_ text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let lineEnd = rest.range(of: "\r\n"), let size = Int(rest[..<lineEnd.lowerBound], radix: 16), size > 0 {
            let start = lineEnd.upperBound
            let bytes = Array(rest[start...].utf8)
            guard bytes.count >= size else { break }
            result += String(decoding: bytes[0..<size], as: UTF8.self)
            rest = Substring(String(decoding: bytes[size...], as: UTF8.self)).dropFirst(2)
        }
        return result
    }

    private func connect() throws -> Int32 {
        if address.hasPrefix("unix:") {
            let path = String(address.dropFirst(5))
            let descriptor = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            guard descriptor >= 0 else { throw AdminError("cannot open a socket: \(errorText())") }
            var socketAddress = sockaddr_un()
            socketAddress.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: socketAddress.sun_path) else {
                close(descriptor)
                throw AdminError("the socket path \(path) is too long")
            }
            withUnsafeMutableBytes(of: &socketAddress.sun_path) { raw in
                for (i, byte) in bytes.enumerated() { raw[i] = byte }
            }
            let result = withUnsafePointer(to: &socketAddress) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    Glibc.connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
                }
            }
            guard result == 0 else {
                close(descriptor)
                throw AdminError("cannot reach the daemon at \(address): \(errorText())")
            }
            return descriptor
        }
        var rest = Substring(address)
        if rest.hasPrefix("http://") { rest = rest.dropFirst(7) }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        guard let colon = rest.lastIndex(of: ":"), let port = UInt16(rest[rest.index(after: colon)...]) else {
            throw AdminError("\(address) is not an admin address (http://HOST:PORT or unix:/path)")
        }
        var host = String(rest[..<colon])
        if host.hasPrefix("[") { host = String(host.dropFirst().dropLast()) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &list) == 0, let first = list else {
            throw AdminError("cannot resolve \(host)")
        }
        defer { freeaddrinfo(list) }
        let descriptor = socket(first.pointee.ai_family, first.pointee.ai_socktype, first.pointee.ai_protocol)
        guard descriptor >= 0 else { throw AdminError("cannot open a socket: \(errorText())") }
        guard Glibc.connect(descriptor, first.pointee.ai_addr, first.pointee.ai_addrlen) == 0 else {
            close(descriptor)
            throw AdminError("cannot reach the daemon at \(address): \(errorText()); is it running?")
        }
        return descriptor
    }

    private func errorText() -> String { String(cString: strerror(errno)) }
}
