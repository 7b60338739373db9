import Hummingbird
import SluiceBroker
import SluiceCore
import SluiceRuntime

/// `POST /v1/dlq/replay`: `sluice dlq replay` through the admin API, while the daemon holds the data
/// directory. The body names the dead-letter topic and the filter (`{"topic": "pg.dlq",
/// "error_classes": ["record"], "partition": 0, "from_offset": 100, "to_offset": 200}`); without
/// `"execute": true` the answer is the plan only. Replays run one at a time, each letter once
/// (`DeadLetterReplay`).
enum DeadLetterReplayAPI {
    /// One replay at a time: two at once would both find the same letters not replayed yet.
    private static let running = Locked(())

    static func replay(_ body: [UInt8], _ observer: PipelineObserver) -> Response {
        let request: JSONValue
        do {
            request = try JSONValue.parse(body)
        } catch {
            return AdminServer.error("the body is not JSON: \(error)", status: .badRequest)
        }
        guard let topic = request["topic"]?.stringValue, !topic.isEmpty else {
            return AdminServer.error(
                "name the dead-letter topic: {\"topic\": \"SINK.dlq\"}, with \"execute\": true to replay",
                status: .badRequest)
        }
        let filter: DeadLetterReplay.Filter
        do {
            filter = try DeadLetterReplay.Filter(json: request)
        } catch {
            return AdminServer.error(error.description, status: .badRequest)
        }
        let execute = request["execute"]?.boolValue ?? false
        let answer = running.withLock { _ in
            observer.withBroker { broker -> Response in
                do {
                    let plan = try DeadLetterReplay.plan(broker: broker, topic: topic, filter: filter)
                    let replayed = execute ? try plan.execute(broker: broker) : nil
                    return AdminServer.json(DeadLetterReplay.Report(plan, replayed: replayed).json)
                } catch let error as BrokerError where error.code == .topicNotFound {
                    return AdminServer.error(error.message, status: .notFound)
                } catch {
                    return AdminServer.error("cannot replay \(topic): \(error)", status: .internalServerError)
                }
            }
        }
        return answer ?? GroupOffsetsAPI.notRunning
    }
}
