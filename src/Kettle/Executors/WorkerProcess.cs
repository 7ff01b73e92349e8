using System.Diagnostics;

namespace Kettle;

/// <summary>
/// One worker process of a <see cref="ProcessPoolExecutor"/> and its two pipes.
/// </summary>
/// <remarks>
/// Threading: owned by one slot thread of the pool, which sends and receives; <see cref="KillForCancel"/> comes from
/// any thread (the loop, when a running call is cancelled) and kills only if that call is still the current one.
/// </remarks>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process process;
    private readonly Stream input;
    private readonly Stream output;
    private readonly object sync = new();
    private long currentCall;
    private bool exited;

    private WorkerProcess(Process process)
    {
        this.process = process;
        Pid = process.Id;
        input = process.StandardInput.BaseStream;
        output = process.StandardOutput.BaseStream;
    }

    public int Pid { get; }

    /// <summary>Calls run since it started.</summary>
    public int TasksDone { get; set; }

    /// <summary>Whether it was killed because its call was cancelled.</summary>
    public bool KilledForCancel { get; private set; }

    public static WorkerProcess Start(WorkerLauncher launcher)
    {
        var process = new Process { StartInfo = launcher.CreateStartInfo() };
        try
        {
            process.Start();
            return new WorkerProcess(process);
        }
        catch
        {
            process.Dispose();
            throw;
        }
    }

    public void Send(WorkerRequest request) => ProcessProtocol.Write(input, request);

    /// <summary>The next reply; null if the worker's output ended (it died).</summary>
    public WorkerReply? Receive() => ProcessProtocol.Read<WorkerReply>(output);

    public void BeginCall(long id)
    {
        lock (sync)
        {
            currentCall = id;
        }
    }

    public void EndCall()
    {
        lock (sync)
        {
            currentCall = 0;
        }
    }

    /// <summary>Kills the worker if it is still running call <paramref name="id"/>.</summary>
    public void KillForCancel(long id)
    {
        lock (sync)
        {
            if (currentCall != id || exited)
            {
                return;
            }
            KilledForCancel = true;
        }
        Kill();
    }

    public void Kill()
    {
        try
        {
            process.Kill();
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception or NotSupportedException)
        {
            // Already gone.
        }
    }

    /// <summary>
    /// Waits for the worker to end (after its output ended it is dying; give it <paramref name="grace"/> to finish
    /// with its own exit code), kills it if it does not, and returns its exit code.
    /// </summary>
    public int? WaitForExit(TimeSpan grace)
    {
        try
        {
            if (!process.WaitForExit(grace))
            {
                Kill();
                process.WaitForExit();
            }
            lock (sync)
            {
                exited = true;
            }
            return process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>Closes its stdin: an idle worker exits at once (a busy one too: its stdin reader notices).</summary>
    public void CloseInput()
    {
        try
        {
            input.Dispose();
        }
        catch (IOException)
        {
            // Its end is gone already.
        }
    }

    public void Dispose()
    {
        CloseInput();
        try
        {
            output.Dispose();
        }
        catch (IOException)
        {
        }
        process.Dispose();
    }
}
