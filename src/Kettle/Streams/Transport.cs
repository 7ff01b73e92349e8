using System.Net.Security;
using System.Net.Sockets;

namespace Kettle;

/// <summary>
/// The byte pipe under a reader/writer pair: a connected socket, optionally wrapped in TLS.
/// asyncio counterpart: the transport (<c>_SelectorSocketTransport</c>, <c>_SSLProtocolTransport</c>).
/// </summary>
/// <remarks>Threading: loop thread only (its async operations complete back on the loop).</remarks>
internal abstract class Transport
{
    protected Transport(Socket? socket)
    {
        Socket = socket;
        try
        {
            RemoteEndPoint = socket?.RemoteEndPoint;
            LocalEndPoint = socket?.LocalEndPoint;
        }
        catch (SocketException)
        {
            // Not connected any more: leave the addresses unknown.
        }
    }

    public Socket? Socket { get; }

    public System.Net.EndPoint? RemoteEndPoint { get; }

    public System.Net.EndPoint? LocalEndPoint { get; }

    public virtual SslStream? Ssl => null;

    /// <summary>Set once <see cref="Close"/> ran: a read that fails afterwards is an end of stream, not an error.</summary>
    public bool ClosedLocally { get; private set; }

    public abstract ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    /// <summary>Sends what the kernel takes at once without blocking; returns how much (0 when nothing, or when
    /// the transport cannot send synchronously, as TLS).</summary>
    public virtual int TrySendNow(ReadOnlySpan<byte> data) => 0;

    public abstract ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken);

    public abstract ValueTask ShutdownSendAsync();

    private bool reading;
    private bool closeAfterRead;

    /// <summary>A read is in flight (the reader says so, to let <see cref="Close"/> end it gracefully).</summary>
    public void BeginRead() => reading = true;

    public void EndRead()
    {
        reading = false;
        if (closeAfterRead)
        {
            closeAfterRead = false;
            CloseCore();
        }
    }

    /// <summary>
    /// Closes. A socket with a read in flight is shut down first (the peer gets a FIN, the read ends as end of
    /// stream) and released when that read returns: disposing it under the read would make .NET abort the
    /// connection with a reset.
    /// </summary>
    public void Close()
    {
        if (ClosedLocally)
        {
            return;
        }
        ClosedLocally = true;
        if (reading && Socket is { } socket)
        {
            try
            {
                socket.Shutdown(SocketShutdown.Both);
                closeAfterRead = true;
                return;
            }
            catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
            {
                // Not connected any more: release it now.
            }
        }
        CloseCore();
    }

    protected virtual void CloseCore() => Socket?.Dispose();
}

/// <summary>A plain connected socket. Writes are tried synchronously first (asyncio does the same).</summary>
internal sealed class SocketTransport : Transport
{
    private readonly Socket socket;

    public SocketTransport(Socket socket)
        : base(socket)
    {
        this.socket = socket;
        socket.Blocking = false;
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);

    public override int TrySendNow(ReadOnlySpan<byte> data)
    {
        int sent = socket.Send(data, SocketFlags.None, out SocketError error);
        if (error == SocketError.WouldBlock)
        {
            return 0;
        }
        if (error != SocketError.Success)
        {
            throw new SocketException((int)error);
        }
        return sent;
    }

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        while (!data.IsEmpty)
        {
            int n = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            data = data[n..];
        }
    }

    public override ValueTask ShutdownSendAsync()
    {
        socket.Shutdown(SocketShutdown.Send);
        return ValueTask.CompletedTask;
    }
}

/// <summary>TLS over a connected socket, through <see cref="SslStream"/>.</summary>
internal sealed class SslTransport : Transport
{
    private readonly SslStream ssl;
    private readonly Socket socket;

    private SslTransport(Socket socket, SslStream ssl)
        : base(socket)
    {
        this.ssl = ssl;
        this.socket = socket;
    }

    public override SslStream? Ssl => ssl;

    public static async Coroutine<Transport> ConnectAsync(Socket socket, SslClientAuthenticationOptions options, string host, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            options.TargetHost ??= host;
            await ssl.AuthenticateAsClientAsync(options, cancellationToken);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
        return new SslTransport(socket, ssl);
    }

    public static async Coroutine<Transport> AcceptAsync(Socket socket, SslServerAuthenticationOptions options, CancellationToken cancellationToken)
    {
        var ssl = new SslStream(new NetworkStream(socket, ownsSocket: true));
        try
        {
            await ssl.AuthenticateAsServerAsync(options, cancellationToken);
        }
        catch
        {
            await ssl.DisposeAsync();
            throw;
        }
        return new SslTransport(socket, ssl);
    }

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        ssl.ReadAsync(buffer, cancellationToken);

    public override ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken) =>
        ssl.WriteAsync(data, cancellationToken);

    public override async ValueTask ShutdownSendAsync()
    {
        await ssl.ShutdownAsync().ConfigureAwait(false);
        socket.Shutdown(SocketShutdown.Send);
    }

    protected override void CloseCore()
    {
        ssl.Dispose();
        socket.Dispose();
    }
}

/// <summary>One direction of a pipe (a child process's stdin, stdout or stderr) as a transport.</summary>
internal sealed class PipeTransport : Transport
{
    private readonly Stream stream;

    public PipeTransport(Stream stream)
        : base(null) => this.stream = stream;

    public override ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken) =>
        stream.ReadAsync(buffer, cancellationToken);

    public override async ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        await stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A pipe has no half-close: closing it is the end of stream for the reader.</summary>
    public override ValueTask ShutdownSendAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    protected override void CloseCore() => stream.Dispose();
}
