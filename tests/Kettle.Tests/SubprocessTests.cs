using System.ComponentModel;
using System.Runtime.Versioning;
using System.Text;

namespace Kettle.Tests;

/// <summary>Real child processes (sh, cat, sleep), on the real clock.</summary>
[UnsupportedOSPlatform("windows")]
public class SubprocessTests
{
    private static readonly RunOptions RealClock = new() { HandleCtrlC = false };

    private static void Run(Func<Coroutine> main) => HangGuard.Run(() => Aio.Run(main(), RealClock));

    private static string S(byte[] b) => Encoding.UTF8.GetString(b);

    [Fact]
    public void ReadsStdoutLineByLineAndGetsTheExitCode()
    {
        Run(async () =>
        {
            var p = await Aio.CreateSubprocessExec("/bin/sh", ["-c", "echo one; echo two; exit 3"], stdout: true);
            Assert.True(p.Pid > 0);
            Assert.Null(p.Stdin);
            Assert.Equal("one\n", S(await p.Stdout!.ReadLine()));
            Assert.Equal("two\n", S(await p.Stdout.ReadLine()));
            Assert.Empty(await p.Stdout.ReadLine());
            Assert.Equal(3, await p.Wait());
            Assert.Equal(3, p.ReturnCode);
            p.Dispose();
        });
    }

    [Fact]
    public void CommunicateWithPipesBiggerThanTheirBuffersDoesNotDeadlock()
    {
        Run(async () =>
        {
            // 2 MiB through cat, and 2 MiB more on stderr: every pipe fills many times over.
            var input = new byte[2 * 1024 * 1024];
            new Random(7).NextBytes(input);
            var p = await Aio.CreateSubprocessShell("cat; head -c 2097152 /dev/zero >&2", stdin: true, stdout: true, stderr: true);
            var (output, error) = await p.Communicate(input);
            Assert.Equal(input, output);
            Assert.Equal(2 * 1024 * 1024, error.Length);
            Assert.Equal(0, p.ReturnCode);
            p.Dispose();
        });
    }

    [Fact]
    public void WritingToStdinAndHalfClosingIt()
    {
        Run(async () =>
        {
            var p = await Aio.CreateSubprocessExec("wc", ["-c"], stdin: true, stdout: true);
            p.Stdin!.Write(Encoding.ASCII.GetBytes("12345"));
            await p.Stdin.Drain();
            p.Stdin.Close();
            await p.Stdin.WaitClosed();
            Assert.Equal("5", S(await p.Stdout!.Read()).Trim());
            Assert.Equal(0, await p.Wait());
            p.Dispose();
        });
    }

    [Fact]
    public void TerminateAndKillStopAChild()
    {
        Run(async () =>
        {
            var p = await Aio.CreateSubprocessExec("sleep", ["30"]);
            Assert.Null(p.ReturnCode);
            p.Terminate();
            Assert.NotEqual(0, await p.Wait());
            var q = await Aio.CreateSubprocessExec("sleep", ["30"]);
            q.Kill();
            Assert.NotEqual(0, await q.Wait());
            q.Kill(); // exited: nothing to do
            p.Dispose();
            q.Dispose();
        });
    }

    [Fact]
    public void ACancelledWaitLeavesTheChildRunningAndNoZombieAfterItEnds()
    {
        Run(async () =>
        {
            var p = await Aio.CreateSubprocessExec("sleep", ["30"]);
            var waiter = Aio.CreateTask(p.Wait(), "waiter");
            await Aio.Sleep(0.05);
            waiter.Cancel();
            await Assert.ThrowsAsync<CancelledException>(async () => await waiter);
            Assert.Null(p.ReturnCode);
            Assert.True(Directory.Exists($"/proc/{p.Pid}") || !OperatingSystem.IsLinux());
            p.Kill();
            await p.Wait();
            if (OperatingSystem.IsLinux())
            {
                // Reaped: no /proc entry left (a zombie keeps one with state Z).
                for (int i = 0; i < 200 && File.Exists($"/proc/{p.Pid}/stat"); i++)
                {
                    await Aio.Sleep(0.01);
                }
                Assert.False(File.Exists($"/proc/{p.Pid}/stat") && File.ReadAllText($"/proc/{p.Pid}/stat").Contains(") Z ", StringComparison.Ordinal));
            }
            p.Dispose();
        });
    }

    [Fact]
    public void CancellingATaskBlockedOnStdoutEndsIt()
    {
        Run(async () =>
        {
            var p = await Aio.CreateSubprocessExec("sleep", ["30"], stdout: true);
            var reader = Aio.CreateTask(p.Stdout!.ReadLine(), "reader");
            await Aio.Sleep(0.05);
            reader.Cancel();
            await Assert.ThrowsAsync<CancelledException>(async () => await reader);
            p.Kill();
            await p.Wait();
            p.Dispose();
        });
    }

    [Fact]
    public void AProgramThatDoesNotExistThrowsAndTheLoopGoesOn()
    {
        Run(async () =>
        {
            await Assert.ThrowsAsync<Win32Exception>(async () => await Aio.CreateSubprocessExec("/no/such/program-kettle"));
            var p = await Aio.CreateSubprocessShell("echo still here", stdout: true);
            Assert.Equal("still here\n", S((await p.Communicate()).Stdout));
            p.Dispose();
        });
    }
}
