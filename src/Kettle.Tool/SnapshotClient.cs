using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.Net.Sockets;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace Kettle.Tool;

/// <summary>
/// Asks a process for a snapshot: an EventPipe session on its diagnostics socket that enables the "Kettle" provider
/// with a request id; the process's KettleEventSource answers on a thread of its own with the JSON in chunks.
/// </summary>
internal static class SnapshotClient
{
    private const string Provider = "Kettle";

    public static async Task<Snapshot> ReadAsync(int pid, TimeSpan timeout, CancellationToken cancel)
    {
        string name = ProcessName(pid);
        CheckOwner(pid, name);
        if (!DiagnosticsClient.GetPublishedProcesses().Contains(pid))
        {
            throw new ToolException(ExitCodes.NotDotNet,
                $"kettle: process {pid} ({name}) is not a .NET process: it has no diagnostics socket " +
                "(or it runs with DOTNET_EnableDiagnostics=0, or with another TMPDIR than this shell).");
        }

        var request = Guid.NewGuid().ToString("N");
        var provider = new EventPipeProvider(Provider, EventLevel.Informational, 1,
            new Dictionary<string, string> { ["kettle.request"] = request });
        EventPipeSession session;
        try
        {
            session = await new DiagnosticsClient(pid).StartEventPipeSessionAsync([provider], requestRundown: false, circularBufferMB: 16, cancel);
        }
        catch (Exception ex) when (IsPermission(ex))
        {
            throw PermissionDenied(pid, name, ex);
        }
        catch (Exception ex) when (ex is ServerNotAvailableException or EndOfStreamException or IOException or SocketException or TimeoutException)
        {
            throw Exited(pid, name, ex, TimeSpan.FromSeconds(5)) ?? new ToolException(ExitCodes.Failed, $"kettle: cannot talk to process {pid} ({name}): {ex.Message}", ex);
        }

        var answer = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        var source = new EventPipeEventSource(session.EventStream);
        string?[]? chunks = null;
        source.Dynamic.All += e =>
        {
            if (e.ProviderName != Provider || e.EventName != "Snapshot" || (string)e.PayloadByName("request") != request)
            {
                return;
            }
            int i = (int)e.PayloadByName("chunk");
            int n = (int)e.PayloadByName("chunkCount");
            chunks ??= new string?[n];
            if (i < chunks.Length)
            {
                chunks[i] = (string)e.PayloadByName("json");
            }
            if (Array.TrueForAll(chunks, c => c is not null))
            {
                answer.TrySetResult(string.Concat(chunks));
            }
        };
        var reading = Task.Run(() =>
        {
            try
            {
                source.Process();
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The stream broke (the process went away); reported below as the missing answer.
            }
        }, CancellationToken.None);

        try
        {
            var first = await Task.WhenAny(answer.Task, reading, Task.Delay(timeout, cancel));
            if (first == answer.Task)
            {
                var snapshot = Snapshot.Parse(await answer.Task);
                if (!snapshot.Introspection)
                {
                    throw new ToolException(ExitCodes.IntrospectionOff,
                        $"kettle: process {pid} ({name}) has Kettle introspection switched off (KETTLE_INTROSPECTION=0 in its environment).");
                }
                if (snapshot.Error is { } error)
                {
                    throw new ToolException(ExitCodes.Failed, $"kettle: process {pid} ({name}) could not take a snapshot: {error}");
                }
                return snapshot;
            }
            if (Exited(pid, name, null, first == reading ? TimeSpan.FromSeconds(5) : TimeSpan.Zero) is { } gone)
            {
                throw gone;
            }
            cancel.ThrowIfCancellationRequested();
            if (first == reading)
            {
                throw new ToolException(ExitCodes.ExitedMidRead, $"kettle: process {pid} ({name}) closed the diagnostics session before answering.");
            }
            throw new ToolException(ExitCodes.NoKettle,
                $"kettle: process {pid} ({name}) is a .NET process, but nothing answered for Kettle within {timeout.TotalSeconds:0.#} s: " +
                "it does not use Kettle, no Kettle event loop has run in it yet, or EventSource is switched off in it " +
                "(Native AOT and `dotnet run app.cs` apps: set the EventSourceSupport property to true).");
        }
        finally
        {
            try
            {
                await session.StopAsync(CancellationToken.None).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None);
            }
            catch (Exception ex) when (ex is not OutOfMemoryException)
            {
                // The process may be gone; the session ends with it.
            }
            session.Dispose();
            await Task.WhenAny(reading, Task.Delay(TimeSpan.FromSeconds(5), CancellationToken.None));
            source.Dispose();
        }
    }

    private static string ProcessName(int pid)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            return p.ProcessName;
        }
        catch (ArgumentException)
        {
            throw new ToolException(ExitCodes.NoSuchProcess, $"kettle: no process with id {pid}.");
        }
        catch (InvalidOperationException)
        {
            throw new ToolException(ExitCodes.NoSuchProcess, $"kettle: no process with id {pid} (it has exited).");
        }
    }

    /// <summary>The diagnostics socket belongs to the process's user: another user (unless root) cannot connect.</summary>
    private static void CheckOwner(int pid, string name)
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }
        uint? owner = null;
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    owner = uint.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return;
        }
        if (BelongsToAnotherUser(owner, Native.geteuid()))
        {
            throw PermissionDenied(pid, name, null);
        }
    }

    /// <summary>Whether a process owned by <paramref name="owner"/> is out of reach for user <paramref name="me"/>
    /// (root reaches every socket; an unknown owner is left to the connection to decide).</summary>
    internal static bool BelongsToAnotherUser(uint? owner, uint me) => owner is { } uid && uid != me && me != 0;

    private static ToolException PermissionDenied(int pid, string name, Exception? inner) =>
        new(ExitCodes.PermissionDenied,
            $"kettle: permission denied: process {pid} ({name}) belongs to another user. Only the process's own user " +
            "(or root) may open its diagnostics socket: run kettle as that user.", inner);

    private static bool IsPermission(Exception? ex)
    {
        for (; ex is not null; ex = ex.InnerException)
        {
            if (ex is UnauthorizedAccessException || ex is SocketException { SocketErrorCode: SocketError.AccessDenied })
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>An error if the process is gone (or goes within <paramref name="grace"/>: a process that broke the
    /// session may still be on its way out), else null.</summary>
    private static ToolException? Exited(int pid, string name, Exception? inner, TimeSpan grace)
    {
        try
        {
            using var p = Process.GetProcessById(pid);
            if (!p.WaitForExit(grace))
            {
                return null;
            }
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
        }
        return new ToolException(ExitCodes.ExitedMidRead, $"kettle: process {pid} ({name}) exited while it was being read.", inner);
    }

    private static class Native
    {
        [System.Runtime.InteropServices.DllImport("libc")]
        public static extern uint geteuid();
    }
}
