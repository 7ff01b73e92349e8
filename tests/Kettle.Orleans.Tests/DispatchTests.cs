using System.Text.Json;

namespace Kettle.Orleans.Tests;

/// <summary>The call dispatch on its own: client-side description, silo-side allow-list, version check and invoke. No Orleans.</summary>
public class DispatchTests
{
    private static readonly KettleCallDispatcher Dispatcher = new([typeof(Jobs).Assembly]);

    private static KettleCallReply Call(Delegate function, Type resultType, object?[] args, CancellationToken token = default)
    {
        var call = ClusterCall.For(function, resultType);
        return Dispatcher.Invoke(call.Request(call.SerializeArguments(args), Guid.NewGuid(), 1), "here", token);
    }

    private static T Result<T>(Delegate function, params object?[] args)
    {
        var call = ClusterCall.For(function, typeof(T));
        var reply = Dispatcher.Invoke(call.Request(call.SerializeArguments(args), Guid.NewGuid(), 1), "here", default);
        Assert.Equal(KettleCallStatus.Completed, reply.Status);
        Assert.Equal("here", reply.Silo);
        return (T)call.ReadResult(reply.Result, typeof(T))!;
    }

    [Fact]
    public void Calls_run_with_their_arguments_and_results_as_json()
    {
        Assert.Equal(Int128.Parse("333333283333335000000", System.Globalization.CultureInfo.InvariantCulture), Result<Int128>((Func<int, Int128>)Jobs.SumOfSquares, 10_000_000));
        Assert.Equal(49L, Result<long>((Func<long, long>)Jobs.Square, 7L));
        Assert.Equal(5, Result<int>((Func<int, int, int>)Jobs.Add, 2, 3));
        Assert.Equal("hello kettle", Result<string>((Func<string, string>)Jobs.Greet, "kettle"));
        Assert.Equal(new Point(4, 2), Result<Point>((Func<Point, int, Point>)Jobs.Move, new Point(1, 2), 3));
    }

    [Fact]
    public void The_request_names_the_method_by_assembly_version_type_and_parameters()
    {
        var call = ClusterCall.For((Func<int, int, int>)Jobs.Add, typeof(int));
        var request = call.Request(call.SerializeArguments([1, 2]), Guid.NewGuid(), 1);
        Assert.Equal(typeof(Jobs).Assembly.GetName().Name, request.Assembly);
        Assert.Equal(typeof(Jobs).Assembly.GetName().Version!.ToString(), request.AssemblyVersion);
        Assert.Equal("Kettle.Orleans.Tests.Jobs", request.Type);
        Assert.Equal("Add", request.Method);
        Assert.Equal(["System.Int32", "System.Int32"], request.ParameterTypes);
        Assert.Equal(["1", "2"], request.Arguments);
    }

    [Fact]
    public void The_users_exception_comes_back_as_text()
    {
        var reply = Call((Func<string, int>)Jobs.Fail, typeof(int), ["boom"]);
        Assert.Equal(KettleCallStatus.Raised, reply.Status);
        var ex = ClusterCall.ToException(reply.Error!);
        Assert.Equal("System.InvalidOperationException", ex.RemoteType);
        Assert.Equal("boom", ex.RemoteMessage);
        Assert.Contains(nameof(Jobs.Fail), ex.RemoteStackTrace, StringComparison.Ordinal);
        Assert.Equal("System.ArgumentException", Assert.IsType<RemoteException>(ex.InnerException).RemoteType);
    }

    [Fact]
    public void An_assembly_not_in_the_allow_list_is_rejected()
    {
        var reply = Call((Func<int, int, int>)Math.Max, typeof(int), [1, 2]);
        Assert.Equal(KettleCallStatus.Rejected, reply.Status);
        Assert.Contains("System.Private.CoreLib", reply.Error!.Message, StringComparison.Ordinal);
        Assert.Contains("Kettle.Orleans.Tests", reply.Error.Message, StringComparison.Ordinal);
        Assert.Contains("AddKettleWorkers", reply.Error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_call_built_against_another_version_is_rejected()
    {
        var call = ClusterCall.For((Func<long, long>)Jobs.Square, typeof(long));
        var request = call.Request(call.SerializeArguments([3L]), Guid.NewGuid(), 1);
        var other = new KettleCallRequest
        {
            Assembly = request.Assembly,
            AssemblyVersion = "9.9.9.9",
            Type = request.Type,
            Method = request.Method,
            ParameterTypes = request.ParameterTypes,
            Arguments = request.Arguments,
        };
        var reply = Dispatcher.Invoke(other, "here", default);
        Assert.Equal(KettleCallStatus.Rejected, reply.Status);
        Assert.Contains("9.9.9.9", reply.Error!.Message, StringComparison.Ordinal);
        Assert.Contains(request.AssemblyVersion, reply.Error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Kettle.Orleans.Tests.Jobs", "Square", "System.Int32")]
    [InlineData("Kettle.Orleans.Tests.Jobs", "NoSuchMethod", "System.Int64")]
    [InlineData("Kettle.Orleans.Tests.NoSuchType", "Square", "System.Int64")]
    [InlineData("System.Collections.Generic.List`1[[System.Int32]]", "Square", "System.Int64")]
    [InlineData("Kettle.Orleans.Tests.DispatchTests", "Call", "System.Int64")]
    public void Methods_that_do_not_match_exactly_are_rejected(string type, string method, string parameter)
    {
        var request = new KettleCallRequest
        {
            Assembly = typeof(Jobs).Assembly.GetName().Name!,
            AssemblyVersion = typeof(Jobs).Assembly.GetName().Version!.ToString(),
            Type = type,
            Method = method,
            ParameterTypes = [parameter],
            Arguments = ["3"],
        };
        var reply = Dispatcher.Invoke(request, "here", default);
        Assert.Equal(KettleCallStatus.Rejected, reply.Status);
    }

    [Fact]
    public void Arguments_that_do_not_read_as_the_parameter_type_are_rejected()
    {
        var call = ClusterCall.For((Func<long, long>)Jobs.Square, typeof(long));
        var good = call.Request(call.SerializeArguments([3L]), Guid.NewGuid(), 1);
        var bad = new KettleCallRequest
        {
            Assembly = good.Assembly,
            AssemblyVersion = good.AssemblyVersion,
            Type = good.Type,
            Method = good.Method,
            ParameterTypes = good.ParameterTypes,
            Arguments = ["\"not a number\""],
        };
        Assert.Equal(KettleCallStatus.Rejected, Dispatcher.Invoke(bad, "here", default).Status);
    }

    [Fact]
    public void A_trailing_token_is_not_sent_and_the_silo_passes_its_own()
    {
        var call = ClusterCall.For((Func<string, CancellationToken, int>)Jobs.UntilCancelled, typeof(int));
        string tag = "dispatch-" + Guid.NewGuid();
        var args = call.SerializeArguments([tag, CancellationToken.None]);
        Assert.Equal("null", args[1]);
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        var reply = Dispatcher.Invoke(call.Request(args, Guid.NewGuid(), 1), "here", cts.Token);
        Assert.Equal(KettleCallStatus.Raised, reply.Status);
        Assert.Equal(typeof(OperationCanceledException).FullName, reply.Error!.Type);
    }

    [Fact]
    public void Calls_that_cannot_be_sent_are_refused_at_submission_as_by_the_process_pool()
    {
        int captured = 3;
        var lambda = Assert.Throws<ArgumentException>(() => ClusterCall.For((Func<int>)(() => captured), typeof(int)));
        Assert.Contains("lambda", lambda.Message, StringComparison.Ordinal);
        var instance = Assert.Throws<ArgumentException>(() => ClusterCall.For((Func<string>)"x".ToUpperInvariant, typeof(string)));
        Assert.Contains("instance method", instance.Message, StringComparison.Ordinal);
        var call = ClusterCall.For((Func<Point, int, Point>)Jobs.Move, typeof(Point));
        Assert.Throws<ArgumentException>(() => call.SerializeArguments([new Point(1, 2)]));
        // A token anywhere but last is not the silo's to fill.
        Assert.Throws<ArgumentException>(() => ProcessCall.For((Func<string, CancellationToken, int>)Jobs.UntilCancelled, typeof(int), "function"));
    }

    [Fact]
    public void Transport_failures_are_classified_by_whether_the_call_may_have_run()
    {
        Assert.Equal(ClusterCallFailure.WorkerLost, ClusterExecutor.Classify(new TimeoutException("response timeout")));
        Assert.Equal(ClusterCallFailure.WorkerLost, ClusterExecutor.Classify(new global::Orleans.Runtime.SiloUnavailableException("gone")));
        Assert.Equal(ClusterCallFailure.NotDelivered, ClusterExecutor.Classify(new global::Orleans.Runtime.Messaging.ConnectionFailedException("refused")));
    }

    [Fact]
    public void Results_are_json_of_the_declared_type()
    {
        var reply = Call((Func<Point, int, Point>)Jobs.Move, typeof(Point), [new Point(1, 1), 1]);
        Assert.Equal(KettleCallStatus.Completed, reply.Status);
        using var doc = JsonDocument.Parse(reply.Result!);
        Assert.Equal(2, doc.RootElement.GetProperty("X").GetInt32());
    }
}
