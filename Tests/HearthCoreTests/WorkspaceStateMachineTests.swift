import HearthCore
import Testing

@Suite struct WorkspaceStateMachineTests {
    let machine = WorkspaceStateMachine()

    @Test func happyPathThroughEveryLifecycleStep() throws {
        var state = WorkspaceState.creating
        for (event, expected) in [(WorkspaceEvent.created, WorkspaceState.running), (.pause, .pausing), (.paused, .paused),
                                  (.resume, .resuming), (.resumed, .running), (.stop, .stopping), (.stopped, .stopped),
                                  (.start, .starting), (.started, .running), (.delete, .deleting), (.deleted, .deleted)] {
            state = try machine.next(from: state, on: event)
            #expect(state == expected)
        }
    }

    @Test func secondPauseIsAConflict() {
        #expect(throws: HearthError.self) { try machine.next(from: .paused, on: .pause) }
        do {
            _ = try machine.next(from: .paused, on: .pause)
        } catch {
            #expect(error.code == .conflict)
            #expect(error.message.contains("paused"))
        }
    }

    @Test func illegalTransitionsAreRejected() {
        for (state, event) in [(WorkspaceState.stopped, WorkspaceEvent.pause), (.running, .resume), (.deleted, .start),
                               (.paused, .start), (.deleting, .delete), (.creating, .pause)] {
            #expect(throws: HearthError.self) { try machine.next(from: state, on: event) }
        }
    }

    @Test func failedWorkspacesCanBeStartedAgain() throws {
        #expect(try machine.next(from: .running, on: .fail) == .failed)
        #expect(try machine.next(from: .failed, on: .start) == .starting)
    }

    @Test func restartResolvesEveryTransitionalState() throws {
        for state in [WorkspaceState.creating, .starting, .resuming, .pausing, .stopping] {
            #expect(try machine.next(from: state, on: .adoptRunning) == .running)
        }
        #expect(try machine.next(from: .running, on: .adoptLost) == .stopped)
        #expect(try machine.next(from: .pausing, on: .adoptLost) == .paused)
        #expect(try machine.next(from: .deleting, on: .adoptLost) == .deleted)
    }

    @Test func namesAndLimitsAreValidated() {
        #expect(Workspace.isValidName("my-app-1"))
        for bad in ["", "-x", "x-", "UPPER", "ws_sneaky", "a b", String(repeating: "a", count: 64)] {
            #expect(!Workspace.isValidName(bad))
        }
        #expect(throws: HearthError.self) { try ResourceLimits(cpus: 0, memoryMiB: 512).validated() }
        #expect(throws: HearthError.self) { try ResourceLimits(cpus: 1, memoryMiB: 1).validated() }
        #expect(Workspace.newID().hasPrefix("ws_"))
        #expect(Workspace.newID() != Workspace.newID())
    }
}
