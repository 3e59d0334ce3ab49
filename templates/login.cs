<?cs include:"header.cs" ?>
<section class="login card">
  <h1>Sign in to agenthost</h1>
  <?cs if:Login.Error ?><p class="flash error" role="alert"><?cs var:Login.Error ?></p><?cs /if ?>
  <form method="post" action="<?cs var:Prefix ?>/admin/login">
    <input type="hidden" name="csrf" value="<?cs var:Csrf ?>">
    <label>Name <input name="name" autocomplete="username" required maxlength="64" value="<?cs var:Login.Name ?>" autofocus></label>
    <label>Password <input name="password" type="password" autocomplete="current-password" required maxlength="1000"></label>
    <button type="submit" class="primary">Sign in</button>
  </form>
</section>
<?cs include:"footer.cs" ?>
