using System.Runtime.InteropServices;

namespace Kettle;

/// <summary>Unix signal handlers that run on the loop.</summary>
public sealed partial class EventLoop
{
    private Dictionary<PosixSignal, SignalEntry>? signalHandlers;

    /// <summary>
    /// Runs <paramref name="callback"/> on the loop thread each time the process receives
    /// <paramref name="signal"/> (SIGINT, SIGTERM, SIGHUP, ...), instead of the signal's default action; replaces
    /// an earlier handler for the same signal. asyncio counterpart: <c>loop.add_signal_handler(sig, callback)</c>.
    /// </summary>
    /// <remarks>
    /// Built on <see cref="PosixSignalRegistration"/>: the signal arrives on a runtime thread and the callback is
    /// queued onto the loop (like <see cref="CallSoonThreadsafe(Action)"/>); an exception in it goes to the
    /// exception handler. Several signals arriving before the loop runs the callback may run it once each.
    /// Once the loop is closed, the signal gets its default action again. With <see cref="Aio.Run(Coroutine, RunOptions?)"/>'s
    /// Ctrl+C handling on (<see cref="RunOptions.HandleCtrlC"/>), SIGINT also interrupts the main task: turn it off to
    /// own SIGINT. Threading: loop thread only.
    /// </remarks>
    /// <exception cref="PlatformNotSupportedException">The platform cannot handle that signal.</exception>
    public void AddSignalHandler(PosixSignal signal, Action callback)
    {
        ArgumentNullException.ThrowIfNull(callback);
        CheckThread(nameof(AddSignalHandler));
        if (closed)
        {
            throw new InvalidOperationException("AddSignalHandler: the event loop is closed.");
        }
        RemoveSignalHandler(signal);
        var entry = new SignalEntry(this, callback);
        entry.Registration = PosixSignalRegistration.Create(signal, entry.OnSignal);
        (signalHandlers ??= new())[signal] = entry;
    }

    /// <summary>
    /// Removes the handler for <paramref name="signal"/>; the signal gets its default action again. Returns
    /// whether there was one. asyncio counterpart: <c>loop.remove_signal_handler(sig)</c>.
    /// </summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public bool RemoveSignalHandler(PosixSignal signal)
    {
        CheckThread(nameof(RemoveSignalHandler));
        if (signalHandlers is null || !signalHandlers.Remove(signal, out var entry))
        {
            return false;
        }
        entry.Dispose();
        return true;
    }

    /// <summary>One registered handler. Threading: <see cref="OnSignal"/> runs on a runtime signal thread.</summary>
    private sealed class SignalEntry : IDisposable
    {
        private readonly EventLoop loop;
        private readonly Action callback;
        private volatile bool disposed;

        public SignalEntry(EventLoop loop, Action callback)
        {
            this.loop = loop;
            this.callback = callback;
        }

        public PosixSignalRegistration? Registration { get; set; }

        public void OnSignal(PosixSignalContext context)
        {
            if (disposed)
            {
                return;
            }
            if (loop.TryEnqueueThreadsafe(new Handle(loop, callback, null)))
            {
                context.Cancel = true;
            }
            else
            {
                // The loop is closed: nobody will run the callback, so the signal keeps its default action.
                Dispose();
            }
        }

        public void Dispose()
        {
            disposed = true;
            Registration?.Dispose();
        }
    }
}
