import Logging
import NIOCore
import NIOPosix
import SluiceCore

/// The Kafka protocol listener: SwiftNIO accepts connections and cuts frames; requests run on a pool of
/// threads for blocking work (appends and reads touch the disk), one at a time per connection so that
/// each connection's answers come in order; fetches waiting for data are parked without a thread.
public final class KafkaListener: Sendable {
    /// Kafka's `socket.request.max.bytes`: a larger length prefix closes the connection.
    public static let maxRequestBytes = 100 << 20

    let handler: KafkaRequestHandler
    let logger: Logger
    let group: MultiThreadedEventLoopGroup
    let pool: NIOThreadPool
    let waiters: FetchWaiters
    let channel: Locked<(any Channel)?> = Locked(nil)
    /// The open client connections, closed first when the listener stops.
    let connections = Locked<[ObjectIdentifier: any Channel]>([:])

    public init(handler: KafkaRequestHandler, logger: Logger) {
        self.handler = handler
        self.logger = logger
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        pool = NIOThreadPool(numberOfThreads: 4)
        waiters = FetchWaiters(brokers: handler.brokers)
    }

    /// Binds `host:port` and starts serving; the address bound (its port when 0 was asked).
    public func start(host: String, port: Int) throws -> String {
        pool.start()
        waiters.start()
        handler.groups.start()
        let (handler, pool, waiters, logger, connections) = (
            self.handler, self.pool, self.waiters, self.logger, self.connections
        )
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                connections.withLock { $0[ObjectIdentifier(channel)] = channel }
                channel.closeFuture.whenComplete { _ in
                    _ = connections.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
                }
                return channel.eventLoop.makeCompletedFuture {
                    let connection = KafkaConnection(
                        channel: channel, handler: handler, pool: pool, waiters: waiters, logger: logger)
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(KafkaFrameDecoder()))
                    try channel.pipeline.syncOperations.addHandler(KafkaConnectionHandler(connection))
                }
            }
        let bound = try bootstrap.bind(host: host, port: port).wait()
        channel.withLock { $0 = bound }
        let actual = bound.localAddress?.port ?? port
        handler.bound(port: Int32(actual))
        return "\(host.contains(":") ? "[\(host)]" : host):\(actual)"
    }

    /// Stops accepting, closes the connections, lets the requests already running finish (their
    /// answers go nowhere) and stops the threads, the event loop last.
    public func stop() {
        if let bound = channel.withLock({ $0 }) { try? bound.close().wait() }
        for connection in connections.withLock({ Array($0.values) }) { try? connection.close().wait() }
        try? pool.syncShutdownGracefully()
        waiters.stop()
        handler.groups.stop()
        try? group.syncShutdownGracefully()
    }
}

/// Cuts the byte stream into request frames: a big-endian int32 length, then that many bytes.
struct KafkaFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = ByteBuffer

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: Int32.self) else { return .needMoreData }
        guard length >= 10 && Int(length) <= KafkaListener.maxRequestBytes else {
            throw WireError(
                length < 10
                    ? "a request of \(length) bytes, shorter than a request header"
                    : "a request of \(length) bytes; at most \(KafkaListener.maxRequestBytes) are taken")
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        guard let frame = buffer.readSlice(length: Int(length)) else { return .needMoreData }
        context.fireChannelRead(wrapInboundOut(frame))
        return .continue
    }
}

/// Hands each frame to the connection's queue; closes the connection on a framing error.
final class KafkaConnectionHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer

    let connection: KafkaConnection

    init(_ connection: KafkaConnection) { self.connection = connection }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var frame = unwrapInboundIn(data)
        connection.received(frame.readBytes(length: frame.readableBytes) ?? [])
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        connection.logger.info(
            "closing a Kafka connection",
            metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(error)"])
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        connection.closed()
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        connection.next()
        context.fireChannelWritabilityChanged()
    }
}

/// One client connection: its requests in order, one at a time on the pool.
final class KafkaConnection: Sendable {
    let channel: any Channel
    let handler: KafkaRequestHandler
    let pool: NIOThreadPool
    let waiters: FetchWaiters
    let logger: Logger

    private struct State {
        var queue: [KafkaRequest] = []
        var queuedBytes = 0
        var busy = false
        /// False once the connection is closed for a bad request or the listener stops.
        var open = true
        /// The client closed its side: the produces and commits it sent before are still done (acks=0
        /// ones have nobody to tell), the rest is dropped.
        var peerGone = false
        var reading = true
    }
    /// Reading from a client stops while this many requests, or bytes of them, wait (a client that
    /// sends and does not read its answers must not fill the daemon's memory), as Kafka mutes a
    /// connection while a request of it runs.
    static let maxQueuedRequests = 8
    static let maxQueuedBytes = 32 << 20
    private let state = Locked(State())
    /// The client's address, for DescribeGroups.
    let host: String
    let fetches = FetchMemory()

    init(channel: any Channel, handler: KafkaRequestHandler, pool: NIOThreadPool, waiters: FetchWaiters, logger: Logger)
    {
        self.channel = channel
        self.handler = handler
        self.pool = pool
        self.waiters = waiters
        self.logger = logger
        host = channel.remoteAddress?.ipAddress ?? ""
    }

    func received(_ frame: [UInt8]) {
        var request: KafkaRequest
        do {
            request = try KafkaRequest(frame: frame)
            request.clientHost = host
            request.fetches = fetches
        } catch {
            close("a request whose header cannot be read: \(error)")
            return
        }
        let pause = state.withLock { state in
            state.queue.append(request)
            state.queuedBytes += frame.count
            guard state.reading,
                state.queue.count >= Self.maxQueuedRequests || state.queuedBytes >= Self.maxQueuedBytes
            else { return false }
            state.reading = false
            return true
        }
        if pause { channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
        next()
    }

    func closed() {
        state.withLock { $0.peerGone = true }
        next()
    }

    /// Starts the next request when none is running and the client reads its answers.
    func next() {
        let peerGone = state.withLock { $0.peerGone }
        guard peerGone || channel.isWritable else { return }
        let (request, resume): (KafkaRequest?, Bool) = state.withLock { state in
            guard state.open, !state.busy else { return (nil, false) }
            if state.peerGone {
                state.queue.removeAll { !KafkaConnection.outlivesItsClient($0) }
            }
            guard !state.queue.isEmpty else { return (nil, false) }
            state.busy = true
            let request = state.queue.removeFirst()
            state.queuedBytes -= request.frame.count
            let resume =
                !state.reading && !state.peerGone && state.queue.count < Self.maxQueuedRequests / 2
                && state.queuedBytes < Self.maxQueuedBytes / 2
            if resume { state.reading = true }
            return (request, resume)
        }
        if resume { channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
        guard let request else { return }
        pool.submit { [self] work in
            guard work == .active else { return }
            finish(request, handler.handle(request))
        }
    }

    private func finish(_ request: KafkaRequest, _ outcome: KafkaOutcome) {
        switch outcome {
        case .reply(let body):
            send(body, to: request)
            done()
        case .noReply:
            done()
        case .close(let reason):
            close(reason)
        case .later(let register):
            register { [self] body in
                send(body, to: request)
                done()
            }
        case .park(let deadline, let attempt):
            waiters.park(deadline: deadline, attempt: attempt) { [self] body in
                send(body, to: request)
                done()
            }
        }
    }

    /// Requests done even when their client closed the connection before the answer: what it wrote.
    static func outlivesItsClient(_ request: KafkaRequest) -> Bool {
        request.apiKey == KafkaAPI.produce.rawValue || request.apiKey == KafkaAPI.offsetCommit.rawValue
    }

    private func done() {
        state.withLock { $0.busy = false }
        next()
    }

    private func send(_ body: [UInt8], to request: KafkaRequest) {
        let flexibleHeader =
            request.apiKey != KafkaAPI.apiVersions.rawValue
            && (KafkaAPI(rawValue: request.apiKey)?.isFlexible(request.version) ?? false)
        var buffer = channel.allocator.buffer(capacity: 8 + body.count + 1)
        buffer.writeInteger(Int32(4 + (flexibleHeader ? 1 : 0) + body.count))
        buffer.writeInteger(request.correlationID)
        if flexibleHeader { buffer.writeInteger(UInt8(0)) }
        buffer.writeBytes(body)
        channel.writeAndFlush(buffer, promise: nil)
    }

    private func close(_ reason: String) {
        logger.info(
            "closing a Kafka connection",
            metadata: ["peer": "\(channel.remoteAddress.map { "\($0)" } ?? "?")", "reason": "\(reason)"])
        state.withLock { $0.open = false }
        channel.close(promise: nil)
    }
}
