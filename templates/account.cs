<?cs include:"header.cs" ?>
<h1>Your account <small class="muted"><?cs var:Account.Name ?> (<?cs var:Account.Role ?>)</small></h1>
<?cs if:Account.Error ?><p class="flash error" role="alert"><?cs var:Account.Error ?></p><?cs /if ?>
<section class="card">
  <h2>Two-factor sign-in</h2>
  <?cs if:Account.Mfa == "1" ?>
  <p>Two-factor sign-in is <strong>on</strong>: each sign-in asks for a code from your authenticator app.
    Unused recovery codes: <?cs var:Account.RecoveryLeft ?>.</p>
  <form method="post" action="<?cs var:Prefix ?>/admin/account/recovery">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Current code <input name="code" autocomplete="one-time-code" inputmode="numeric" required maxlength="7"></label>
    <button type="submit">Make new recovery codes</button>
  </form>
  <?cs else ?>
  <?cs if:Account.EnrolDue == "1" ?><p class="flash error" role="alert">Your role or tenant requires two-factor sign-in. Set it up to continue.</p>
  <?cs elif:Account.Required == "1" ?><p>Your role or tenant requires two-factor sign-in.</p><?cs /if ?>
  <p>Two-factor sign-in is <strong>off</strong>. Set it up with any authenticator app (TOTP, 6 digits, 30 seconds).</p>
  <form method="post" action="<?cs var:Prefix ?>/admin/account/mfa">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <button type="submit" class="primary">Set up two-factor sign-in</button>
  </form>
  <?cs /if ?>
</section>
<?cs include:"footer.cs" ?>
