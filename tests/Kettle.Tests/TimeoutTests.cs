namespace Kettle.Tests;

/// <summary>Aio.Timeout / TimeoutAt / TimeoutScope, mirroring Lib/test/test_asyncio/test_timeouts.py (SEMANTICS.md §6).</summary>
public class TimeoutTests
{
    private static double Now => Aio.GetRunningLoop().Time;

    [Fact]
    public void Timeout_DeadlinePasses_TimeoutExceptionWithCancelledInnerAndExpired()
    {
        // test_timeout_basic / test_timeout_exception_cause: TimeoutError from the CancelledError.
        static async Coroutine<(Exception?, bool, double)> Main()
        {
            TimeoutScope scope = null!;
            Exception? caught = null;
            try
            {
                await Aio.Timeout(0.5, async s =>
                {
                    scope = s;
                    await Aio.Sleep(10);
                });
            }
            catch (TimeoutException ex)
            {
                caught = ex;
            }
            return (caught, scope.Expired, Now);
        }

        var (caught, expired, time) = Virtual.Run(Main());
        Assert.IsType<TimeoutException>(caught);
        Assert.IsType<CancelledException>(caught.InnerException);
        Assert.True(expired);
        Assert.Equal(0.5, time);
    }

    [Fact]
    public void Timeout_BodyFinishesInTime_ResultReturnedNotExpired()
    {
        static async Coroutine<(int, bool, string, double)> Main()
        {
            TimeoutScope scope = null!;
            var v = await Aio.Timeout(2, async s =>
            {
                scope = s;
                await Aio.Sleep(1);
                return 7;
            });
            return (v, scope.Expired, scope.ToString(), Now);
        }

        Assert.Equal((7, false, "<Timeout [finished]>", 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void TimeoutAt_AbsoluteDeadline_ExpiresThere()
    {
        // test_timeout_at_basic.
        static async Coroutine<(bool, double?, double)> Main()
        {
            await Aio.Sleep(1);
            double? when = null;
            bool timedOut = false;
            try
            {
                await Aio.TimeoutAt(Now + 2, async s =>
                {
                    when = s.When;
                    await Aio.Sleep(10);
                });
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            return (timedOut, when, Now);
        }

        Assert.Equal((true, 3.0, 3.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_Zero_TimesOutAtFirstAwait()
    {
        // test_timeout_zero / test_timeout_in_the_past_sleep_zero: even sleep(0) is interrupted.
        static async Coroutine<(bool, bool)> Main()
        {
            bool zero = false, past = false;
            try
            {
                await Aio.Timeout(0, async _ => await Aio.Sleep(10));
            }
            catch (TimeoutException)
            {
                zero = true;
            }
            try
            {
                await Aio.Timeout(-11, async _ => await Aio.Yield());
            }
            catch (TimeoutException)
            {
                past = true;
            }
            return (zero, past);
        }

        Assert.Equal((true, true), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_NullDelay_NoDeadline()
    {
        // test_timeout_disabled.
        static async Coroutine<(double?, double)> Main()
        {
            double? when = 0;
            await Aio.Timeout(null, async s =>
            {
                when = s.When;
                await Aio.Sleep(100);
            });
            return (when, Now);
        }

        Assert.Equal((null, 100.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_DeadlineComputedWhenCalled_NotWhenAwaited()
    {
        // asyncio.timeout(delay) computes loop.time() + delay when called.
        static async Coroutine<(bool, double)> Main()
        {
            var c = Aio.Timeout(1, async _ => await Aio.Sleep(10));
            await Aio.Sleep(0.5);
            try
            {
                await c;
            }
            catch (TimeoutException)
            {
                return (true, Now);
            }
            return (false, Now);
        }

        Assert.Equal((true, 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_NestedSameDeadline_OnlyOutermostConverts()
    {
        // test_nested_timeouts: the inner one lets CancelledError through, the outer raises TimeoutError.
        static async Coroutine<(bool, bool, bool, bool)> Main()
        {
            bool innerSawCancelled = false, outerTimedOut = false;
            TimeoutScope cm1 = null!, cm2 = null!;
            var deadline = Now + 0.01;
            try
            {
                await Aio.TimeoutAt(deadline, async s1 =>
                {
                    cm1 = s1;
                    try
                    {
                        await Aio.TimeoutAt(deadline, async s2 =>
                        {
                            cm2 = s2;
                            await Aio.Sleep(10);
                        });
                    }
                    catch (CancelledException)
                    {
                        innerSawCancelled = true;
                        throw;
                    }
                });
            }
            catch (TimeoutException)
            {
                outerTimedOut = true;
            }
            return (innerSawCancelled, outerTimedOut, cm1.Expired, cm2.Expired);
        }

        Assert.Equal((true, true, true, true), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_NestedInnerExpiresFirst_InnerTimeoutPassesThroughOuter()
    {
        static async Coroutine<(bool, bool, bool, double)> Main()
        {
            TimeoutScope outer = null!, inner = null!;
            bool timedOut = false;
            try
            {
                await Aio.Timeout(10, async o =>
                {
                    outer = o;
                    await Aio.Timeout(1, async i =>
                    {
                        inner = i;
                        await Aio.Sleep(100);
                    });
                });
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            return (timedOut, inner.Expired, outer.Expired, Now);
        }

        Assert.Equal((true, true, false, 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_ForeignCancelBeforeDeadline_CancelledExceptionNotExpired()
    {
        // test_foreign_cancel_doesnt_timeout_if_not_expired.
        static async Coroutine<(bool, bool)> Main()
        {
            TimeoutScope scope = null!;
            async Coroutine Body()
            {
                await Aio.Timeout(10, async s =>
                {
                    scope = s;
                    Aio.CurrentTask!.Cancel();
                    await Aio.Sleep(10);
                });
            }

            var t = Aio.CreateTask(Body());
            bool cancelled = false;
            try
            {
                await t;
            }
            catch (CancelledException)
            {
                cancelled = true;
            }
            return (cancelled && t.IsCancelled, scope.Expired);
        }

        Assert.Equal((true, false), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_Expires_TaskNotLeftCancelled()
    {
        // test_outer_task_is_not_cancelled.
        static async Coroutine<(bool, bool, bool, int)> Main()
        {
            bool timedOut = false;
            int cancelling = -1;
            async Coroutine Outer()
            {
                try
                {
                    await Aio.Timeout(0.001, async _ => await Aio.Sleep(10));
                }
                catch (TimeoutException)
                {
                    timedOut = true;
                }
                cancelling = Aio.CurrentTask!.Cancelling();
                await Aio.Sleep(1); // not cancelled again
            }

            var task = Aio.CreateTask(Outer());
            await task;
            return (timedOut, task.IsDone, task.IsCancelled, cancelling);
        }

        Assert.Equal((true, true, false, 0), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_BodySwallowsCancellation_ReturnsNormallyExpired()
    {
        static async Coroutine<(string, bool, int)> Main()
        {
            TimeoutScope scope = null!;
            var v = await Aio.Timeout(1, async s =>
            {
                scope = s;
                try
                {
                    await Aio.Sleep(10);
                    return "slept";
                }
                catch (CancelledException)
                {
                    return "swallowed";
                }
            });
            return (v, scope.Expired, Aio.CurrentTask!.Cancelling());
        }

        Assert.Equal(("swallowed", true, 0), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_InFinallyHandlingCancellation_StillTimesOut()
    {
        // test_timeout_after_cancellation: the scope snapshots cancelling() on entry.
        static async Coroutine<(bool, bool)> Main()
        {
            bool firstCancelled = false, timedOut = false;
            try
            {
                Aio.CurrentTask!.Cancel();
                await Aio.Sleep(1); // work which will be cancelled
            }
            catch (CancelledException)
            {
                firstCancelled = true;
            }
            finally
            {
                try
                {
                    await Aio.Timeout(0.0, async _ => await Aio.Sleep(1)); // some cleanup
                }
                catch (TimeoutException)
                {
                    timedOut = true;
                }
            }
            Aio.CurrentTask!.Uncancel();
            return (firstCancelled, timedOut);
        }

        Assert.Equal((true, true), Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_CancelInsideAfterEarlierCancellation_CancelledWins()
    {
        // test_cancel_in_timeout_after_cancellation.
        static async Coroutine<Exception?> Main()
        {
            Exception? result = null;
            try
            {
                Aio.CurrentTask!.Cancel();
                await Aio.Sleep(1);
            }
            catch (CancelledException)
            {
            }
            finally
            {
                try
                {
                    await Aio.Timeout(0.0, async _ =>
                    {
                        Aio.CurrentTask!.Cancel();
                        await Aio.Sleep(2);
                    });
                }
                catch (Exception ex)
                {
                    result = ex;
                }
            }
            Aio.CurrentTask!.Uncancel();
            Aio.CurrentTask!.Uncancel();
            return result;
        }

        Assert.IsType<CancelledException>(Virtual.Run(Main()));
    }

    [Fact]
    public void Reschedule_FromAnotherTask_DeadlineMovedAndDisabled()
    {
        // test_reschedule.
        static async Coroutine<(double?, double?, double?, bool, bool)> Main()
        {
            var fut = new Future<TimeoutScope>();
            double deadline1 = Now + 10, deadline2 = deadline1 + 20;
            async Coroutine F()
            {
                await Aio.TimeoutAt(deadline1, async cm =>
                {
                    fut.SetResult(cm);
                    await Aio.Sleep(50);
                });
            }

            var task = Aio.CreateTask(F());
            var cm = await fut;
            double? w1 = cm.When;
            cm.Reschedule(deadline2);
            double? w2 = cm.When;
            cm.Reschedule(null);
            double? w3 = cm.When;
            task.Cancel();
            bool cancelled = false;
            try
            {
                await task;
            }
            catch (CancelledException)
            {
                cancelled = true;
            }
            return (w1 - deadline1, w2 - deadline2, w3, cancelled, cm.Expired);
        }

        Assert.Equal((0.0, 0.0, null, true, false), Virtual.Run(Main()));
    }

    [Fact]
    public void Reschedule_ToLaterDeadline_ExpiresAtNewDeadline()
    {
        static async Coroutine<double> Main()
        {
            try
            {
                await Aio.Timeout(1, async s =>
                {
                    await Aio.Sleep(0.5);
                    s.Reschedule(Now + 3);
                    await Aio.Sleep(10);
                });
            }
            catch (TimeoutException)
            {
            }
            return Now;
        }

        Assert.Equal(3.5, Virtual.Run(Main()));
    }

    [Fact]
    public void Reschedule_ToThePast_ExpiresAtNextIteration()
    {
        static async Coroutine<(bool, double)> Main()
        {
            bool timedOut = false;
            try
            {
                await Aio.Timeout(10, async s =>
                {
                    await Aio.Sleep(1);
                    s.Reschedule(Now - 5);
                    await Aio.Sleep(10);
                });
            }
            catch (TimeoutException)
            {
                timedOut = true;
            }
            return (timedOut, Now);
        }

        Assert.Equal((true, 1.0), Virtual.Run(Main()));
    }

    [Fact]
    public void Reschedule_ToThePastThenAgain_OnlyTheLastDeadlineCounts()
    {
        // A deadline moved to the past is queued to fire; moving it again before that runs drops the queued firing
        // (asyncio cancels that handle): to the future, it expires there; to the past again, it fires once, after a
        // callback queued between the two moves (its place in the queue is the last move's).
        static async Coroutine<(double, List<string>)> Main()
        {
            var log = new List<string>();
            var loop = Aio.GetRunningLoop();
            double expiredAt = -1;
            try
            {
                await Aio.Timeout(10, async s =>
                {
                    await Aio.Sleep(1);
                    s.Reschedule(Now - 5);
                    s.Reschedule(Now + 2);
                    try
                    {
                        await Aio.Sleep(10);
                    }
                    catch (CancelledException)
                    {
                        expiredAt = Now;
                        throw;
                    }
                });
            }
            catch (TimeoutException)
            {
                log.Add("first scope timed out");
            }
            try
            {
                await Aio.Timeout(10, async s =>
                {
                    s.Reschedule(Now - 1);
                    loop.CallSoon(() => log.Add($"between moves: expired={s.Expired}"));
                    s.Reschedule(Now - 1);
                    loop.CallSoon(() => log.Add($"after moves: expired={s.Expired}"));
                    await Aio.Sleep(10);
                });
            }
            catch (TimeoutException)
            {
                log.Add("second scope timed out");
            }
            return (expiredAt, log);
        }

        var (expiredAt, log) = Virtual.Run(Main());
        Assert.Equal(3.0, expiredAt);
        Assert.Equal(["first scope timed out", "between moves: expired=False", "after moves: expired=True", "second scope timed out"], log);
    }

    [Fact]
    public void Reschedule_AfterExpiryOrFinish_InvalidOperationException()
    {
        // test_reschedule after expiry: "Cannot change state of expiring/finished Timeout".
        static async Coroutine<(string?, string?)> Main()
        {
            string? expiring = null;
            TimeoutScope finished = null!;
            await Aio.Timeout(1, async s =>
            {
                try
                {
                    await Aio.Sleep(10);
                }
                catch (CancelledException)
                {
                    expiring = Record.Exception(() => s.Reschedule(Now + 10))?.Message;
                }
            });
            await Aio.Timeout(1, async s =>
            {
                finished = s;
                await Aio.Yield();
            });
            return (expiring, Record.Exception(() => finished.Reschedule(null))?.Message);
        }

        var (expiring, finished) = Virtual.Run(Main());
        Assert.Equal("Cannot change state of expiring Timeout.", expiring);
        Assert.Equal("Cannot change state of finished Timeout.", finished);
    }

    [Fact]
    public void ToString_States_AsAsyncioRepr()
    {
        // test_repr_active / test_repr_expired / test_repr_finished / test_repr_disabled.
        static async Coroutine<string[]> Main()
        {
            var reprs = new List<string>();
            TimeoutScope expired = null!;
            await Aio.TimeoutAt(12.3456, async s =>
            {
                reprs.Add(s.ToString());
                await Aio.Yield();
            });
            await Aio.Timeout(null, async s =>
            {
                reprs.Add(s.ToString());
                await Aio.Yield();
            });
            try
            {
                await Aio.Timeout(0, async s =>
                {
                    expired = s;
                    await Aio.Sleep(1);
                });
            }
            catch (TimeoutException)
            {
            }
            reprs.Add(expired.ToString());
            return reprs.ToArray();
        }

        Assert.Equal(["<Timeout [active] when=12.346>", "<Timeout [active] when=None>", "<Timeout [expired]>"], Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_BodyRaisesOtherExceptionAfterExpiry_ThatExceptionPassesThrough()
    {
        static async Coroutine<Exception?> Main()
        {
            try
            {
                await Aio.Timeout(1, async _ =>
                {
                    try
                    {
                        await Aio.Sleep(10);
                    }
                    catch (CancelledException)
                    {
                        throw new TestException("cleanup");
                    }
                });
            }
            catch (Exception ex)
            {
                return ex;
            }
            return null;
        }

        Assert.IsType<TestException>(Virtual.Run(Main()));
    }

    [Fact]
    public void Timeout_AroundTaskGroupWhoseChildFailsInCleanup_GroupPassesThroughNotTimeout()
    {
        // test_timeout_taskgroup: the group's ExceptionGroup comes out (asyncio only threads a TimeoutError
        // into its __context__ chain, which .NET exceptions do not have: Kettle passes the group unchanged).
        static async Coroutine<(Exception?, bool, int)> Main()
        {
            async Coroutine Task()
            {
                try
                {
                    await Aio.Sleep(2); // interrupted after 0.01
                }
                catch (CancelledException)
                {
                    throw new DivideByZeroException(); // crash in cleanup
                }
            }

            TimeoutScope scope = null!;
            Exception? caught = null;
            try
            {
                await Aio.Timeout(0.01, async s =>
                {
                    scope = s;
                    await TaskGroup.Run(async tg =>
                    {
                        _ = tg.CreateTask(Task());
                        try
                        {
                            throw new ArgumentException("value");
                        }
                        finally
                        {
                            await Aio.Sleep(1);
                        }
                    });
                });
            }
            catch (Exception ex)
            {
                caught = ex;
            }
            return (caught, scope.Expired, Aio.CurrentTask!.Cancelling());
        }

        var (caught, expired, cancelling) = Virtual.Run(Main());
        var eg = Assert.IsType<ExceptionGroup>(caught);
        Assert.IsType<DivideByZeroException>(Assert.Single(eg.Exceptions));
        Assert.True(expired);
        Assert.Equal(0, cancelling);
    }

    [Fact]
    public void AForeignWaitCancelledThroughTheTaskTokenBecomesTimeoutException()
    {
        // Real clock: Task.Delay is foreign. Its OperationCanceledException carries the token that the expiry
        // cancelled, which Uncancel renews; the timeout must still recognise it as its own.
        HangGuard.Run(() => Aio.Run(Main(), new RunOptions { HandleCtrlC = false }));

        static async Coroutine Main()
        {
            var e = await Assert.ThrowsAsync<TimeoutException>(async () =>
                await Aio.Timeout(0.05, async _ => await Task.Delay(TimeSpan.FromSeconds(30), Aio.CurrentTask!.CancellationToken)));
            Assert.IsAssignableFrom<OperationCanceledException>(e.InnerException);
            Assert.Equal(0, Aio.CurrentTask!.Cancelling());
        }
    }
}
