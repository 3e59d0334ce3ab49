<?cs include:"header.cs" ?>
<section class="login card">
  <h1>Sign in: second step</h1>
  <?cs if:Login.Error ?><p class="flash error" role="alert"><?cs var:Login.Error ?></p><?cs /if ?>
  <form method="post" action="<?cs var:Prefix ?>/admin/login/code">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Code from your authenticator app, or a recovery code
      <input name="code" autocomplete="one-time-code" inputmode="text" required maxlength="40" autofocus></label>
    <button type="submit" class="primary">Continue</button>
  </form>
  <form method="post" action="<?cs var:Prefix ?>/admin/logout">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <button type="submit">Cancel</button>
  </form>
</section>
<?cs include:"footer.cs" ?>
