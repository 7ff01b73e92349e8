using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace Kettle.Tests;

/// <summary>Real signals sent to the test process itself (SIGHUP would end it if the handler were missing).</summary>
[UnsupportedOSPlatform("windows")]
public class SignalTests
{
    private static readonly RunOptions RealClock = new() { HandleCtrlC = false };

    private static void SendToSelf(string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", $"-{signal} {Environment.ProcessId}") { UseShellExecute = false })!;
        kill.WaitForExit();
        Assert.Equal(0, kill.ExitCode);
    }

    [Fact]
    public void ASignalHandlerRunsOnTheLoopThread()
    {
        HangGuard.Run(() => Aio.Run(Main(), RealClock));

        static async Coroutine Main()
        {
            var loop = Aio.GetRunningLoop();
            int loopThread = Environment.CurrentManagedThreadId;
            var got = new AioEvent();
            int calls = 0;
            int thread = 0;
            loop.AddSignalHandler(PosixSignal.SIGHUP, () =>
            {
                calls++;
                thread = Environment.CurrentManagedThreadId;
                got.Set();
            });
            await Aio.ToThread(() => SendToSelf("HUP"));
            await got.Wait();
            Assert.Equal(1, calls);
            Assert.Equal(loopThread, thread);
            Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGHUP));
            Assert.False(loop.RemoveSignalHandler(PosixSignal.SIGHUP));
        }
    }

    [Fact]
    public void ARemovedHandlerNoLongerRuns()
    {
        HangGuard.Run(() => Aio.Run(Main(), RealClock));

        static async Coroutine Main()
        {
            var loop = Aio.GetRunningLoop();
            int first = 0;
            int second = 0;
            var got = new AioEvent();
            // SIGCONT's default action does nothing to a running process, so the test survives without a handler.
            loop.AddSignalHandler(PosixSignal.SIGCONT, () => first++);
            loop.AddSignalHandler(PosixSignal.SIGCONT, () =>
            {
                second++;
                got.Set();
            });
            await Aio.ToThread(() => SendToSelf("CONT"));
            await got.Wait();
            Assert.Equal(0, first); // replaced
            Assert.Equal(1, second);
            Assert.True(loop.RemoveSignalHandler(PosixSignal.SIGCONT));
            await Aio.ToThread(() => SendToSelf("CONT"));
            await Aio.Sleep(0.2);
            Assert.Equal(1, second);
        }
    }
}
