using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Kettle;

/// <summary>Told by the loop's selector that its file descriptor is ready (loop thread, between steps).</summary>
/// <remarks>Readiness is a hint: the receiver tries its system call and waits again if it would still block.</remarks>
internal interface IIoReady
{
    /// <summary><paramref name="events"/>: the epoll bits (<see cref="LoopSelector.Readable"/> and so on).</summary>
    void OnIoReady(uint events);
}

/// <summary>
/// How the loop sleeps and is woken, and, on Linux, a readiness selector for file descriptors (asyncio's
/// <c>selectors.EpollSelector</c> under its selector loop).
/// </summary>
/// <remarks>
/// <para>Until the first <see cref="Register"/> the loop sleeps on its gate with <see cref="Monitor.Wait(object, int)"/>
/// and a thread-safe post pulses it, as before. From then on it sleeps in <c>epoll_wait</c> (timeout: the next
/// timer), and a post writes an eventfd that the epoll instance watches. The eventfd is written only while the
/// loop sleeps (the loop's <c>sleeping</c> flag, under its gate), so a busy loop costs posters nothing extra.</para>
/// <para>Registrations are edge-triggered and made once per descriptor: the owner tries its system call first and
/// waits for the next edge only when the call would block, so a running connection costs no epoll_ctl.</para>
/// <para>Off Linux, or with <see cref="RunOptions.PortableIo"/> (or KETTLE_SELECTOR=portable), <see cref="Enabled"/>
/// is false and the streams use .NET's own socket engine.</para>
/// <para>Threading: <see cref="WakeLocked"/> from any thread holding the loop's gate; everything else on the loop
/// thread.</para>
/// </remarks>
internal sealed class LoopSelector : IDisposable
{
    internal const uint Readable = 0x001;     // EPOLLIN
    internal const uint Writable = 0x004;     // EPOLLOUT
    internal const uint Error = 0x008;        // EPOLLERR
    internal const uint HangUp = 0x010;       // EPOLLHUP
    internal const uint ReadHangUp = 0x2000;  // EPOLLRDHUP
    private const uint EdgeTriggered = 1u << 31;

    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int CloExec = 0x80000;      // EPOLL_CLOEXEC, EFD_CLOEXEC
    private const int NonBlock = 0x800;       // EFD_NONBLOCK
    private const int Interrupted = 4;        // EINTR
    private const ulong WakeToken = ulong.MaxValue;
    private const int MaxEvents = 256;

    // x86 and x86-64 pack struct epoll_event (12 bytes); other architectures align its 64-bit data field (16 bytes).
    private static readonly int EventSize =
        RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86 ? 12 : 16;

    private readonly object gate;
    private SafeFileHandle? epollHandle;
    private SafeFileHandle? wakeHandle;
    private int epfd = -1;
    private int wakefd = -1;
    private byte[] events = [];
    private readonly byte[] ctlEvent = new byte[16];
    private long wakeValue;
    private bool disposed;

    private IIoReady?[] slots = new IIoReady?[16];
    private readonly Stack<int> freeSlots = new();
    private int slotHigh;

    internal LoopSelector(object gate, RunOptions options)
    {
        this.gate = gate;
        Enabled = OperatingSystem.IsLinux() && !(options.PortableIo ?? PortableFromEnvironment());
    }

    /// <summary>Whether descriptors may be registered (Linux, not opted out). Loop thread or any.</summary>
    public bool Enabled { get; private set; }

    /// <summary>Whether the loop sleeps in epoll_wait (something was registered once).</summary>
    public bool Active => epfd >= 0;

    /// <summary>How many descriptors are registered.</summary>
    public int Count { get; private set; }

    private static bool PortableFromEnvironment() =>
        string.Equals(Environment.GetEnvironmentVariable("KETTLE_SELECTOR"), "portable", StringComparison.OrdinalIgnoreCase);

    /// <summary>
    /// Watches <paramref name="fd"/> for <paramref name="interest"/> (edge-triggered) and tells
    /// <paramref name="target"/>; returns the registration's token for <see cref="Unregister"/>.
    /// </summary>
    public int Register(nint fd, uint interest, IIoReady target)
    {
        if (!Enabled || disposed)
        {
            throw new InvalidOperationException("The event loop's selector is not available.");
        }
        if (!Active)
        {
            Open();
        }
        int slot;
        if (freeSlots.Count > 0)
        {
            slot = freeSlots.Pop();
        }
        else
        {
            if (slotHigh == slots.Length)
            {
                Array.Resize(ref slots, slots.Length * 2);
            }
            slot = slotHigh++;
        }
        if (Ctl(EpollCtlAdd, (int)fd, interest | EdgeTriggered, (ulong)slot) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            freeSlots.Push(slot);
            throw new System.Net.Sockets.SocketException(errno == 9 ? (int)System.Net.Sockets.SocketError.OperationAborted : errno);
        }
        slots[slot] = target;
        Count++;
        return slot;
    }

    /// <summary>Stops watching <paramref name="fd"/> (call it before closing the descriptor). Idempotent per token.</summary>
    public void Unregister(nint fd, int token)
    {
        if (disposed || token < 0 || token >= slotHigh || slots[token] is null)
        {
            return;
        }
        Ctl(EpollCtlDel, (int)fd, 0, 0);
        slots[token] = null;
        freeSlots.Push(token);
        Count--;
    }

    private void Open()
    {
        int ep = Native.epoll_create1(CloExec);
        if (ep < 0)
        {
            throw new System.ComponentModel.Win32Exception(Marshal.GetLastPInvokeError(), "epoll_create1 failed");
        }
        int ev = Native.eventfd(0, CloExec | NonBlock);
        if (ev < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            Native.close(ep);
            throw new System.ComponentModel.Win32Exception(errno, "eventfd failed");
        }
        epollHandle = new SafeFileHandle(ep, ownsHandle: true);
        wakeHandle = new SafeFileHandle(ev, ownsHandle: true);
        events = new byte[MaxEvents * EventSize];
        if (Ctl(ep, EpollCtlAdd, ev, Readable, WakeToken) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            epollHandle.Dispose();
            wakeHandle.Dispose();
            throw new System.ComponentModel.Win32Exception(errno, "epoll_ctl(eventfd) failed");
        }
        // Published last: posters read it (under the gate) only while the loop sleeps, which it does not now.
        wakefd = ev;
        epfd = ep;
    }

    private int Ctl(int op, int fd, uint interest, ulong token) => Ctl(epfd, op, fd, interest, token);

    private int Ctl(int ep, int op, int fd, uint interest, ulong token)
    {
        var e = ctlEvent.AsSpan();
        e.Clear();
        BinaryPrimitives.WriteUInt32LittleEndian(e, interest);
        BinaryPrimitives.WriteUInt64LittleEndian(e[(EventSize - 8)..], token);
        return Native.epoll_ctl(ep, op, fd, ctlEvent);
    }

    /// <summary>
    /// The loop sleeps: called with the gate held (the loop's <c>sleeping</c> flag set), returns with it held,
    /// after <paramref name="ticks"/> (negative: no limit), a <see cref="WakeLocked"/>, or readiness. In epoll mode
    /// the gate is released while waiting, and ready descriptors are told before the gate is taken back.
    /// </summary>
    public void Sleep(long ticks)
    {
        int ms = ticks < 0 ? -1 : (int)Math.Min((ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond, int.MaxValue);
        if (!Active)
        {
            // Round up so a timer is never checked before it is due and then spun on.
            Monitor.Wait(gate, ms);
            return;
        }
        Monitor.Exit(gate);
        try
        {
            for (int i = 0; i < SpinPolls && ms != 0; i++)
            {
                if (Select(0) > 0)
                {
                    return;
                }
            }
            Select(ms);
        }
        finally
        {
            Monitor.Enter(gate);
        }
    }

    /// <summary>Wakes a sleeping loop: called by a poster holding the gate, only while the loop sleeps.</summary>
    public void WakeLocked()
    {
        if (!Active)
        {
            Monitor.Pulse(gate);
            return;
        }
        long one = 1;
        // EAGAIN (the counter is full) still leaves it readable: the loop wakes all the same.
        Native.write(wakefd, ref one, 8);
    }

    /// <summary>Tells ready descriptors without waiting (the loop has work queued). Loop thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Poll()
    {
        if (Count > 0)
        {
            Select(0);
        }
    }

    /// <summary>
    /// Before it sleeps, the loop looks this many more times for ready descriptors without waiting (default 20;
    /// KETTLE_SPIN_POLLS overrides it, 0 turns it off). A request-response connection usually has its next request
    /// ready within microseconds, and on a VM a sleep and its wake-up cost more than that: on the echo benchmark 20
    /// cut the loop's context switches per request from ~0.35 to ~0.05 for ~1 us more CPU per request, and on a quiet
    /// machine took echo from 52-74k to 81-86k requests/s, level with uvloop (docs/performance.md, run G). An idle loop
    /// pays the 20 non-blocking polls (a few microseconds) once per sleep.
    /// </summary>
    private static readonly int SpinPolls = int.TryParse(Environment.GetEnvironmentVariable("KETTLE_SPIN_POLLS"), out int v) && v >= 0 ? v : 20;

    private int Select(int timeoutMs)
    {
        int n = Native.epoll_wait(epfd, events, MaxEvents, timeoutMs);
        if (n <= 0)
        {
            // 0: timed out; -1: EINTR (a signal) or the like: the loop goes round and looks again.
            return n;
        }
        var span = events.AsSpan();
        for (int i = 0; i < n; i++)
        {
            var e = span.Slice(i * EventSize, EventSize);
            uint bits = BinaryPrimitives.ReadUInt32LittleEndian(e);
            ulong token = BinaryPrimitives.ReadUInt64LittleEndian(e[(EventSize - 8)..]);
            if (token == WakeToken)
            {
                Native.read(wakefd, ref wakeValue, 8);
                continue;
            }
            // A slot freed (or reused) earlier in this batch gets a stale hint at worst, which its owner tolerates.
            if (token < (ulong)slotHigh && slots[(int)token] is { } target)
            {
                target.OnIoReady(bits);
            }
        }
        return n;
    }

    /// <summary>Closes the epoll instance and the eventfd (the loop is closed: nobody posts or sleeps any more).</summary>
    public void Dispose()
    {
        if (disposed)
        {
            return;
        }
        disposed = true;
        Enabled = false;
        epfd = -1;
        wakefd = -1;
        Array.Clear(slots);
        epollHandle?.Dispose();
        wakeHandle?.Dispose();
    }

    private static class Native
    {
        [DllImport("libc", SetLastError = true)]
        public static extern int epoll_create1(int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern int epoll_ctl(int epfd, int op, int fd, byte[] ev);

        [DllImport("libc", SetLastError = true)]
        public static extern int epoll_wait(int epfd, byte[] events, int maxevents, int timeout);

        [DllImport("libc", SetLastError = true)]
        public static extern int eventfd(uint initval, int flags);

        [DllImport("libc", SetLastError = true)]
        public static extern nint write(int fd, ref long value, nint count);

        [DllImport("libc", SetLastError = true)]
        public static extern nint read(int fd, ref long value, nint count);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);
    }
}
