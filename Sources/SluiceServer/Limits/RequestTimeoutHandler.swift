import NIOCore
import SluiceModel

/// The first handler of an HTTP connection: sees every byte the client sends and closes a
/// connection whose request arrives too slowly (slowloris), answering `408` where a response
/// can still be written. The handler after the HTTP decoder (`RequestProgressHandler`) tells it
/// where requests begin and end, as `RequestProgress` outbound events.
final class RequestTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = IOData
    typealias OutboundOut = IOData

    private var machine: StateMachine
    private var timer: Scheduled<Void>?
    private var armedFor: NIODeadline?
    private let timeoutText: String
    private let rateText: String

    init(timeout: WindowDuration, minBodyRate: Int) {
        machine = StateMachine(timeout: .microseconds(timeout.microseconds), minBodyRate: minBodyRate)
        timeoutText = timeout.humanDescription
        rateText = "\(minBodyRate)"
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let count = unwrapInboundIn(data).readableBytes
        perform(machine.bytesRead(count, now: .now()), context: context)
        guard machine.phase != .closed else { return }
        context.fireChannelRead(data)
    }

    func triggerUserOutboundEvent(context: ChannelHandlerContext, event: Any, promise: EventLoopPromise<Void>?) {
        guard let progress = event as? RequestProgress else {
            context.triggerUserOutboundEvent(event, promise: promise)
            return
        }
        switch progress {
        case .headReceived: perform(machine.headReceived(now: .now()), context: context)
        case .requestEnded: machine.requestEnded()
        case .responseStarted: machine.responseStarted()
        case .responseEnded: machine.responseEnded()
        }
        promise?.succeed(())
    }

    func channelInactive(context: ChannelHandlerContext) {
        cancelTimer()
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        cancelTimer()
    }

    private func perform(_ action: StateMachine.Action, context: ChannelHandlerContext) {
        switch action {
        case .none:
            break
        case .arm(let deadline):
            // One timer at a time: deadlines only move later, so an earlier one re-arms itself.
            guard timer == nil || armedFor.map({ deadline < $0 }) == true else { return }
            cancelTimer()
            armedFor = deadline
            let loop = context.eventLoop.assumeIsolated()
            timer = loop.scheduleTask(deadline: deadline) { [self] in
                timer = nil
                armedFor = nil
                perform(machine.timerFired(now: .now()), context: context)
            }
        case .close(let answer, let phase):
            cancelTimer()
            if answer {
                let detail = if case .head = phase {
                    "the request head did not arrive within server.request_timeout (\(timeoutText)) of its first byte; the connection is closed"
                } else {
                    "the request body arrived slower than server.min_body_rate (\(rateText) bytes a second after server.request_timeout, \(timeoutText)); the connection is closed"
                }
                let response = HTTPLimits.errorResponse(status: "408 Request Timeout", error: "request_timeout", detail: detail)
                context.writeAndFlush(wrapOutboundOut(.byteBuffer(context.channel.allocator.buffer(bytes: response))), promise: nil)
            }
            context.close(promise: nil)
        }
    }

    private func cancelTimer() {
        timer?.cancel()
        timer = nil
        armedFor = nil
    }
}

/// Where the HTTP decoder and the responder are in a request: what `RequestTimeoutHandler`
/// needs to know to time requests, sent to it as an outbound user event.
enum RequestProgress: Sendable {
    case headReceived
    case requestEnded
    case responseStarted
    case responseEnded
}
