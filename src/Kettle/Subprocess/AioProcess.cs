using System.ComponentModel;
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Kettle;

/// <summary>
/// A child process started by <see cref="Aio.CreateSubprocessExec"/> or <see cref="Aio.CreateSubprocessShell"/>,
/// with its redirected stdin/stdout/stderr as Kettle streams. asyncio counterpart:
/// <c>asyncio.subprocess.Process</c>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="Wait"/> does not read the pipes: a child that fills a redirected pipe blocks until it is read.
/// <see cref="Communicate"/> feeds stdin and reads stdout and stderr at once, so it never deadlocks.</item>
/// <item>Cancelling <see cref="Wait"/> or <see cref="Communicate"/> leaves the child running (as asyncio); kill it
/// if it should stop. The .NET runtime reaps every child it started, so an exited child never stays a zombie.</item>
/// </list>
/// <para>Threading: loop thread only.</para>
/// </remarks>
public sealed class AioProcess : IDisposable
{
    private readonly Process process;
    private readonly EventLoop loop;

    internal AioProcess(Process process, EventLoop loop, bool stdin, bool stdout, bool stderr, int limit)
    {
        this.process = process;
        this.loop = loop;
        Pid = process.Id;
        if (stdin)
        {
            var t = new PipeTransport(process.StandardInput.BaseStream);
            Stdin = new AioStreamWriter(t, loop, new AioStreamReader(t, loop, limit));
        }
        if (stdout)
        {
            Stdout = new AioStreamReader(new PipeTransport(process.StandardOutput.BaseStream), loop, limit);
        }
        if (stderr)
        {
            Stderr = new AioStreamReader(new PipeTransport(process.StandardError.BaseStream), loop, limit);
        }
    }

    /// <summary>The child's process id. asyncio: <c>pid</c>.</summary>
    public int Pid { get; }

    /// <summary>The child's stdin, or null if not redirected. asyncio: <c>stdin</c>.</summary>
    public AioStreamWriter? Stdin { get; }

    /// <summary>The child's stdout, or null if not redirected. asyncio: <c>stdout</c>.</summary>
    public AioStreamReader? Stdout { get; }

    /// <summary>The child's stderr, or null if not redirected. asyncio: <c>stderr</c>.</summary>
    public AioStreamReader? Stderr { get; }

    /// <summary>The exit code once the child has exited, else null (a child killed by a signal gives 128 + the
    /// signal number, as .NET reports it). asyncio: <c>returncode</c> (which gives -signal).</summary>
    public int? ReturnCode => process.HasExited ? process.ExitCode : null;

    /// <summary>Waits for the child to exit and returns its exit code. A cancellation point (the child keeps
    /// running). asyncio: <c>wait()</c>.</summary>
    public async Coroutine<int> Wait()
    {
        loop.CheckThread(nameof(Wait));
        if (!process.HasExited)
        {
            var token = loop.currentTask?.CancellationToken ?? default;
            await process.WaitForExitAsync(token);
        }
        return process.ExitCode;
    }

    /// <summary>
    /// Sends <paramref name="input"/> to stdin (then closes it), reads stdout and stderr to their end, and waits
    /// for the child to exit; all at once, so full pipes never deadlock. Streams that are not redirected give
    /// empty arrays. A child that stops reading stdin early is not an error. On cancellation the reads stop and
    /// the child keeps running. asyncio: <c>communicate(input)</c>.
    /// </summary>
    public async Coroutine<(byte[] Stdout, byte[] Stderr)> Communicate(byte[]? input = null)
    {
        loop.CheckThread(nameof(Communicate));
        AioTask? feeder = Stdin is null ? null : loop.CreateTask(Feed(Stdin, input), $"communicate-stdin-{Pid}");
        AioTask<byte[]>? outTask = Stdout is null ? null : loop.CreateTask(Stdout.Read(), $"communicate-stdout-{Pid}");
        AioTask<byte[]>? errTask = Stderr is null ? null : loop.CreateTask(Stderr.Read(), $"communicate-stderr-{Pid}");
        try
        {
            if (feeder is not null)
            {
                await feeder;
            }
            byte[] output = outTask is null ? [] : await outTask;
            byte[] error = errTask is null ? [] : await errTask;
            await Wait();
            return (output, error);
        }
        finally
        {
            feeder?.Cancel();
            outTask?.Cancel();
            errTask?.Cancel();
        }
    }

    private static async Coroutine Feed(AioStreamWriter stdin, byte[]? input)
    {
        try
        {
            if (input is { Length: > 0 })
            {
                stdin.Write(input);
                await stdin.Drain();
            }
        }
        catch (IOException)
        {
            // The child closed its stdin (asyncio ignores BrokenPipeError and ConnectionResetError here too).
        }
        stdin.Close();
        await stdin.WaitClosed();
    }

    /// <summary>Kills the child (SIGKILL on Unix). Does nothing if it has exited. asyncio: <c>kill()</c>.</summary>
    public void Kill()
    {
        loop.CheckThread(nameof(Kill));
        try
        {
            process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
    }

    /// <summary>Asks the child to stop (SIGTERM on Unix; on Windows, the same as <see cref="Kill"/>).
    /// asyncio: <c>terminate()</c>.</summary>
    public void Terminate()
    {
        if (OperatingSystem.IsWindows())
        {
            Kill();
            return;
        }
        SendSignal(15);
    }

    /// <summary>Sends the Unix signal numbered <paramref name="signal"/> (e.g. 1 SIGHUP, 2 SIGINT, 15 SIGTERM) to
    /// the child, unless it has exited. asyncio: <c>send_signal(sig)</c>.</summary>
    public void SendSignal(int signal)
    {
        loop.CheckThread(nameof(SendSignal));
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Unix signals cannot be sent on Windows; use Kill.");
        }
        if (process.HasExited)
        {
            return;
        }
        if (NativeMethods.Kill(Pid, signal) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (!process.HasExited)
            {
                throw new Win32Exception(errno, $"Cannot send signal {signal} to process {Pid}.");
            }
        }
    }

    /// <summary>Releases the process handle and closes the pipes (the child is not killed).</summary>
    public void Dispose()
    {
        Stdin?.Abort();
        process.Dispose();
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        public static extern int Kill(int pid, int signal);
    }
}

public static partial class Aio
{
    /// <summary>
    /// Starts <paramref name="program"/> with <paramref name="arguments"/> (no shell), redirecting the streams
    /// asked for to Kettle streams; the others are inherited. asyncio counterpart:
    /// <c>asyncio.create_subprocess_exec(program, *args, stdin=PIPE, ...)</c>.
    /// </summary>
    /// <remarks>A program that cannot be started throws <see cref="Win32Exception"/>. Threading: loop thread only.</remarks>
    public static async Coroutine<AioProcess> CreateSubprocessExec(
        string program, IEnumerable<string>? arguments = null, bool stdin = false, bool stdout = false, bool stderr = false,
        string? workingDirectory = null, int limit = AioStreamReader.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(program);
        var loop = GetRunningLoop();
        loop.CheckThread(nameof(CreateSubprocessExec));
        var info = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = stdin,
            RedirectStandardOutput = stdout,
            RedirectStandardError = stderr,
        };
        if (workingDirectory is not null)
        {
            info.WorkingDirectory = workingDirectory;
        }
        foreach (var a in arguments ?? [])
        {
            info.ArgumentList.Add(a);
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"Process.Start returned no process for '{program}'.");
        await Task.CompletedTask;
        return new AioProcess(process, loop, stdin, stdout, stderr, limit);
    }

    /// <summary>
    /// Runs <paramref name="command"/> through the shell (<c>/bin/sh -c</c>; <c>cmd.exe /c</c> on Windows). asyncio
    /// counterpart: <c>asyncio.create_subprocess_shell(cmd, ...)</c>. Quote what you interpolate.
    /// </summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public static Coroutine<AioProcess> CreateSubprocessShell(
        string command, bool stdin = false, bool stdout = false, bool stderr = false,
        string? workingDirectory = null, int limit = AioStreamReader.DefaultLimit)
    {
        ArgumentNullException.ThrowIfNull(command);
        return OperatingSystem.IsWindows()
            ? CreateSubprocessExec("cmd.exe", ["/c", command], stdin, stdout, stderr, workingDirectory, limit)
            : CreateSubprocessExec("/bin/sh", ["-c", command], stdin, stdout, stderr, workingDirectory, limit);
    }
}
