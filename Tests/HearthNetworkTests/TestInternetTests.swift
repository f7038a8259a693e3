import Foundation
import HearthRuntime
import Testing

@Suite(.serialized, .timeLimit(.minutes(2))) struct TestInternetTests {
    @Test func itsServersAnswerFromTheHostAndItLeavesNothingBehind() async throws {
        let internet = try await TestInternet.start()
        let hello = try await TestInternet.exec(["curl", "-s", "--max-time", "5", "http://\(TestInternet.web)/"])
        let unnamed = try await TestInternet.exec(["curl", "-s", "--max-time", "5", "http://\(TestInternet.unnamedWeb)/"])
        await internet.stop()
        #expect(hello.stdout == "hello from \(TestInternet.web)\n", "\(hello.stderr)")
        #expect(unnamed.stdout == "hello from \(TestInternet.unnamedWeb)\n", "\(unnamed.stderr)")
        let namespaces = try await TestInternet.exec(["ip", "netns", "list"])
        #expect(!namespaces.stdout.contains(TestInternet.namespace))
        let links = try await TestInternet.exec(["ip", "-o", "link", "show"])
        #expect(!links.stdout.contains(TestInternet.uplink))
    }
}
