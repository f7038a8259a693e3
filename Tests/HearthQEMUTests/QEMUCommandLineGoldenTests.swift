import Foundation
import HearthCore
@testable import HearthQEMU
import HearthWire
import Testing

/// The QEMU command lines of a workspace microVM, argument for argument: any change to the
/// machine, devices, seccomp or memory backend shows up as a diff of Golden/qemu-*.txt (one
/// argument a line) that a reviewer reads. No VM is run. `HEARTH_UPDATE_GOLDEN=1` rewrites them.
struct QEMUCommandLineGoldenTests {
    @Test(arguments: [
        ("kvm-file", QEMUCommandLine.Mode.kvm, QEMUConfiguration.MemoryBackend.sharedFile, false, false),
        ("tcg-anonymous-incoming", .tcg, .anonymous, true, false),
        ("tcg-file-network", .tcg, .sharedFile, false, true),
    ])
    func theCommandLineIsTheReviewedOne(name: String, mode: QEMUCommandLine.Mode, memory: QEMUConfiguration.MemoryBackend, incoming: Bool,
                                        network: Bool) throws {
        var command = QEMUCommandLine(mode: mode, limits: ResourceLimits(cpus: 2, memoryMiB: 1024), name: "ws-golden",
                                      memoryBackend: memory, incoming: incoming)
        command.tscKHz = 2_000_000
        if network { command.network = MicroVMNetwork(address: "10.213.0.6", prefixLength: 30, gateway: "10.213.0.5") }
        try QEMUGoldenFile.check(command.arguments.joined(separator: "\n") + "\n", named: "qemu-\(name).txt")
    }
}

@Suite struct MicroVMNetworkArgumentTests {
    @Test func theGuestReadsWhatTheHostWrote() {
        let network = MicroVMNetwork(address: "10.213.0.6", prefixLength: 30, gateway: "10.213.0.5")
        #expect(MicroVMNetwork.parse(commandLine: "console=ttyS0 panic=-1 \(network.commandLineWord) lpj=1") == network)
        #expect(MicroVMNetwork.parse(commandLine: "console=ttyS0") == nil)
    }

    @Test(arguments: ["hearth.net=", "hearth.net=10.0.0.2", "hearth.net=10.0.0.2/30", "hearth.net=10.0.0.2/33,10.0.0.1",
                      "hearth.net=10.0.0.2/0,10.0.0.1", "hearth.net=10.0.0.256/30,10.0.0.1", "hearth.net=10.0.0.2/30,10.0.0",
                      "hearth.net=10.0.0.2/30,10.0.0.1,x", "hearth.net=1e1.0.0.2/30,10.0.0.1", "hearth.net=10.0.0.2/+3,10.0.0.1",
                      "hearth.net=10.0.0.2/30,0010.0.0.1", "hearth.net=١٠.0.0.2/30,10.0.0.1"])
    func aMalformedNetworkIsNone(word: String) {
        #expect(MicroVMNetwork.parse(commandLine: "console=ttyS0 " + word) == nil)
    }
}

enum QEMUGoldenFile {
    struct Mismatch: Error, CustomStringConvertible {
        let description: String
    }

    static func check(_ text: String, named name: String, directory: String = #filePath) throws {
        let path = URL(fileURLWithPath: directory).deletingLastPathComponent().appendingPathComponent("Golden/\(name)").path
        if ProcessInfo.processInfo.environment["HEARTH_UPDATE_GOLDEN"] == "1" {
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        let golden = try String(contentsOfFile: path, encoding: .utf8)
        guard golden == text else {
            throw Mismatch(description: "\(name) differs from the golden file (\(path)); review, then rerun with HEARTH_UPDATE_GOLDEN=1:\n\(text)")
        }
    }
}
