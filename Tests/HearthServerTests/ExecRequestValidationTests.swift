import HearthAPI
import HearthCore
@testable import HearthServer
import Testing

/// A client's numbers in an exec request are refused with `invalid_argument` before the agent
/// sees them (issue 14 #15), and the exec WebSocket ignores signals and sizes that are not ones.
@Suite struct ExecRequestValidationTests {
    @Test func timeoutsBeyondAWeekOrZeroAreInvalid() throws {
        for timeout: UInt64 in [0, .max, ExecRoutes.maxTimeoutMs + 1, 1 << 63] {
            #expect(throws: HearthError.self) { _ = try ExecRoutes.request(API.ExecBody(argv: ["true"], timeout_ms: timeout)) }
            do {
                _ = try ExecRoutes.request(API.ExecBody(argv: ["true"], timeout_ms: timeout))
            } catch let error as HearthError {
                #expect(error.code == .invalidArgument)
            }
        }
        #expect(try ExecRoutes.request(API.ExecBody(argv: ["true"], timeout_ms: ExecRoutes.maxTimeoutMs)).timeoutMs == ExecRoutes.maxTimeoutMs)
        #expect(try ExecRoutes.request(API.ExecBody(argv: ["true"], timeout_ms: 1)).timeoutMs == 1)
    }

    @Test func ptySizesAndSignalsMustBeReal() {
        #expect(throws: HearthError.self) { _ = try ExecRoutes.request(API.ExecBody(argv: ["sh"], pty: API.PTY(rows: 0, cols: 80))) }
        #expect(throws: HearthError.self) { _ = try ExecRoutes.request(API.ExecBody(argv: ["sh"], pty: API.PTY(rows: 24, cols: .max))) }
        #expect(ExecSocket.ptySize(API.PTY(rows: 24, cols: 80)) != nil)
        #expect(ExecSocket.signal(Array("2".utf8)) == 2)
        for bad in ["0", "-9", "65", "99999999999999999999", "", "x", "2147483648"] {
            #expect(ExecSocket.signal(Array(bad.utf8)) == nil, "signal \(bad)")
        }
    }
}
